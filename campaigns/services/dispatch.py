"""The campaign checks decide() runs for a campaign message (inbox/services/outbound.py).

Both run inside _reserve's transaction, after the message and rep-channel row locks: the
window check may re-plan the recipient; the cap check takes the campaign row lock (always after
those two, so the lock order is fixed) and reserves one of the day's sends.
"""
from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from campaigns.models import Campaign, CampaignRecipient
from campaigns.services.campaigns import PAUSED_CODE, PAUSED_REASON, PAUSED_UNTIL
from campaigns.services.planning import INVALID_TIMEZONE, Row, Span, Target, WindowPlanner, campaign_spans, followup_span
from core.logs import entity_log

log = entity_log("campaigns")


class Hold(NamedTuple):
    """What decide() should do instead of sending: Decision(*hold)."""

    action: str  # defer | fail
    code: str
    reason: str
    until: datetime | None = None


def target_of(contact) -> Target:
    return Target(contact.id, contact.timezone, contact.allowed_start, contact.allowed_end, contact.lead_score,
                  contact.owner_id, contact.name, contact.phone, contact.email, contact.country, contact.language)


def recipient_spans(recipient: CampaignRecipient, target: Target, spans: list[Span] | None = None) -> list[Span]:
    """Where the recipient may still be planned: a follow-up within its follow-up span; a slot
    campaign's recipient in its slot or a later one; otherwise the campaign window. `spans` are
    the campaign's (campaign_spans), when the caller already has them."""
    if recipient.step > 0 and recipient.not_before is not None:
        return [followup_span(not_before=recipient.not_before, tz=target.tz)]
    spans = campaign_spans(recipient.campaign) if spans is None else spans
    if recipient.slot_id is not None:
        current = next((i for i, span in enumerate(spans) if span.slot_id == recipient.slot_id), 0)
        spans = spans[current:]
    return spans


def recipient_replan(recipient: CampaignRecipient, target: Target, *, after: datetime,
                     planner: WindowPlanner | None = None, spans: list[Span] | None = None) -> Row:
    """The recipient's next window at or after `after` (None window: nothing left): later in
    its current span if that has more allowed hours, else in the next slot."""
    try:
        spans = recipient_spans(recipient, target, spans)
    except ValueError:  # a zone the database should never have held
        return Row(target, None, "skipped", INVALID_TIMEZONE)
    return (planner or WindowPlanner()).row(target, spans, after=after)


def _local(instant: datetime, tz: str) -> str:
    return f"{instant.astimezone(ZoneInfo(tz)):%Y-%m-%d %H:%M} {tz}"


def campaign_window_hold(*, message, now: datetime) -> Hold | None:
    """A campaign message goes only inside its recipient's window: before it, it waits; past
    it, the recipient is re-planned into the contact's next allowed window (next slot), or
    skipped with the reason when none is left. A paused or cancelled campaign holds it too."""
    recipient = (CampaignRecipient.objects.select_for_update(of=("self",)).select_related("campaign")
                 .filter(pk=message.campaign_recipient_id).first())
    if recipient is None or recipient.message_id != message.id:
        return None  # not (or no longer) the recipient's planned message, e.g. an earlier attempt retried by hand
    campaign = recipient.campaign
    if campaign.status == Campaign.Status.PAUSED:
        return Hold("defer", PAUSED_CODE, PAUSED_REASON, PAUSED_UNTIL)
    if campaign.status == Campaign.Status.CANCELLED:
        CampaignRecipient.objects.filter(pk=recipient.pk, state="scheduled").update(state="cancelled", reason="campaign cancelled")
        return Hold("fail", "campaign_cancelled", "campaign cancelled")
    if recipient.state in ("cancelled", "skipped"):
        return Hold("fail", f"campaign_recipient_{recipient.state}", recipient.reason or f"recipient {recipient.state}")
    if recipient.window_start is None or recipient.window_end is None:
        return None
    contact = message.conversation.contact
    if now < recipient.window_start:
        return Hold("defer", "contact_window", f"contact's window opens {_local(recipient.window_start, contact.timezone)}",
                    recipient.window_start)
    if now < recipient.window_end:
        return None
    row = recipient_replan(recipient, target_of(contact), after=now)
    if row.window is None:
        recipient.state, recipient.reason, recipient.clip = "skipped", row.reason, "skipped"
        recipient.save(update_fields=["state", "reason", "clip"])
        log.info("recipient skipped", campaign=campaign.id, recipient=recipient.id, message=message.id, reason=row.reason)
        return Hold("fail", "campaign_window_passed",
                    f"the contact's campaign window ended before the message could go ({row.reason})")
    recipient.window_start, recipient.window_end = row.window
    recipient.slot_id, recipient.clip = row.slot_id, row.clip
    recipient.save(update_fields=["window_start", "window_end", "slot", "clip"])
    log.info("recipient re-planned", campaign=campaign.id, recipient=recipient.id, message=message.id, window_start=row.window[0])
    if row.window[0] <= now:
        return None  # the contact's next window is open now: the other rules decide
    return Hold("defer", "contact_window",
                f"contact's window ended; re-planned to {_local(row.window[0], contact.timezone)}", row.window[0])


def _next_utc_day(now: datetime) -> datetime:
    return datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), time(0), tzinfo=UTC)


def campaign_cap_hold(*, message, now: datetime) -> Hold | None:
    """Campaign.daily_cap: at most that many of the campaign's messages pass per UTC day. The
    campaign row lock serialises workers of every rep; a pass reserves the day's send on the
    recipient (reserved_at), committed with the capacity ledger row or not at all."""
    row = (CampaignRecipient.objects.filter(pk=message.campaign_recipient_id)
           .values_list("campaign_id", "campaign__daily_cap", "reserved_at").first())
    if row is None or row[1] is None:
        return None
    campaign_id, cap, reserved_at = row
    day_start = datetime.combine(now.astimezone(UTC).date(), time(0), tzinfo=UTC)
    if reserved_at is not None and reserved_at >= day_start:
        return None
    Campaign.objects.select_for_update().filter(pk=campaign_id).values_list("id", flat=True).first()
    used = CampaignRecipient.objects.filter(campaign_id=campaign_id, reserved_at__gte=day_start,
                                            reserved_at__lt=_next_utc_day(now)).count()
    if used >= cap:
        until = _next_utc_day(now)
        return Hold("defer", "campaign_cap", f"campaign daily cap {cap} reached until {until:%Y-%m-%d %H:%M} UTC", until)
    CampaignRecipient.objects.filter(pk=message.campaign_recipient_id).update(reserved_at=now)
    return None
