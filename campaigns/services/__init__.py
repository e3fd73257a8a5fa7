"""Campaign write path, split by noun: campaigns (lifecycle), expansion and planning, dispatch
(the checks decide() runs), sequences, slots, scores, reports, contact imports."""
