"""Expansion: one recipient per audience contact, planned in the contact's own window."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from campaigns.models import Campaign
from campaigns.selectors import audience_contacts, consent_excluded, reachable_on
from campaigns.services.planning import PlanResult, WindowPlanner, campaign_spans, plan_rows, targets_from


def campaign_expand(*, campaign: Campaign, now: datetime, progress: Callable[[int], None] | None = None,
                    on_total: Callable[[int], None] | None = None) -> PlanResult:
    """The campaign window (or its first slot with time left) in each contact's zone, clipped to
    the contact's allowed hours: kept, narrowed, or skipped with the reason recorded. Caller holds
    the campaign row lock in a transaction."""
    targets = targets_from(reachable_on(audience_contacts(campaign), campaign.channel))
    if not targets:
        raise ValueError("audience matches no contacts (opted-out contacts never match): widen the filters")
    if on_total:
        on_total(len(targets))
    spans = campaign_spans(campaign)
    planner = WindowPlanner()
    rows = [planner.row(target, spans, after=now, preferred_rep_id=target.owner_id) for target in targets]
    result = plan_rows(campaign=campaign, channel=campaign.channel, step=None, rows=rows, now=now, progress=progress)
    result.excluded = consent_excluded(campaign, campaign.channel)
    return result
