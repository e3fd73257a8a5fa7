"""Pure assignment rule (DESIGN.md "Assignment")."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Candidate:
    rep_id: int
    available: bool
    open_conversations: int


def pick_assignee(*, owner_id: int | None, owner_available: bool, candidates: list[Candidate]) -> int | None:
    """The contact's owner if set (and still able to work the channel), else the available rep
    with the fewest open conversations (lowest id on ties, so the choice is stable); None: wait."""
    if owner_id is not None and owner_available:
        return owner_id
    available = [c for c in candidates if c.available]
    if not available:
        return None
    return min(available, key=lambda c: (c.open_conversations, c.rep_id)).rep_id
