"""What campaigns add to the send decision (inbox/sending.py), through inbox/hooks.py.

`campaign_send_facts` reads a campaign message's recipient and campaign under row locks taken
after the message and rep-channel locks (the recipient's, then — for a daily cap not yet
reserved today — the campaign's, so the lock order is fixed; a dispatch batch takes them all
first, campaigns before recipients, through campaign_send_batch_locks); `campaign_send_apply` writes
what the decision asked for: re-plan, skip or cancel the recipient, reserve the day's send.
"""
from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from campaigns.models import Campaign, CampaignRecipient
from campaigns.services.planning import INVALID_TIMEZONE, Row, Span, Target, WindowPlanner, campaign_spans, followup_span
from campaigns.services.progress import campaign_progress_changed
from core.logs import entity_log
from inbox.sending import (
    CampaignFacts,
    CampaignSendReserve,
    Decision,
    RecipientCancel,
    RecipientReplan,
    RecipientSkip,
    Replan,
)

log = entity_log("campaigns")


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


def _utc_day(now: datetime) -> tuple[datetime, datetime]:
    start = datetime.combine(now.astimezone(UTC).date(), time(0), tzinfo=UTC)
    return start, start + timedelta(days=1)


def campaign_send_batch_locks(*, messages) -> None:
    """Lock the batch's capped campaigns, then their recipients, each in id order: the rows
    campaign_send_facts locks one message at a time. Campaign before recipient is the order of
    campaign_cancel / pause (campaign row, then its recipients), so a manager cancelling while
    workers send never deadlocks with them (the bench met that with recipient-first)."""
    recipient_ids = sorted(m.campaign_recipient_id for m in messages if m.campaign_recipient_id)
    if not recipient_ids:
        return
    campaign_ids = set(CampaignRecipient.objects.filter(pk__in=recipient_ids).values_list("campaign_id", flat=True))
    list(Campaign.objects.select_for_update().filter(pk__in=campaign_ids, daily_cap__isnull=False).order_by("id").values_list("id", flat=True))
    list(CampaignRecipient.objects.select_for_update(of=("self",)).filter(pk__in=recipient_ids).order_by("id").values_list("id", flat=True))


def campaign_send_facts(*, message, now: datetime) -> CampaignFacts | None:
    """None when the message is not (or no longer) its recipient's planned one, e.g. an earlier
    attempt retried by hand: then it is an ordinary message."""
    if not message.campaign_recipient_id:
        return None
    recipient = (CampaignRecipient.objects.select_for_update(of=("self",)).select_related("campaign")
                 .filter(pk=message.campaign_recipient_id).first())
    if recipient is None or recipient.message_id != message.id:
        return None
    campaign = recipient.campaign
    replan = None
    live = campaign.status not in (Campaign.Status.PAUSED, Campaign.Status.CANCELLED)
    if live and recipient.window_end is not None and now >= recipient.window_end and recipient.state not in ("cancelled", "skipped"):
        row = recipient_replan(recipient, target_of(message.conversation.contact), after=now)
        replan = Replan(row.window, row.slot_id, row.clip, row.reason)
    cap, reserved_today, used = campaign.daily_cap, False, 0
    if cap is not None:
        day_start, day_end = _utc_day(now)
        reserved_today = recipient.reserved_at is not None and recipient.reserved_at >= day_start
        if not reserved_today:
            # The campaign row lock serialises the workers of every rep on the day's count.
            Campaign.objects.select_for_update().filter(pk=campaign.pk).values_list("id", flat=True).first()
            used = CampaignRecipient.objects.filter(campaign_id=campaign.pk, reserved_at__gte=day_start,
                                                    reserved_at__lt=day_end).count()
    return CampaignFacts(
        status=campaign.status, recipient_state=recipient.state, recipient_reason=recipient.reason,
        window_start=recipient.window_start, window_end=recipient.window_end, replan=replan,
        daily_cap=cap, reserved_today=reserved_today, used_today=used,
    )


def campaign_send_apply(*, message, decision: Decision, now: datetime) -> None:
    """The campaign writes a decision asked for, in the decision's transaction."""
    recipients = CampaignRecipient.objects.filter(pk=message.campaign_recipient_id)
    if any(isinstance(effect, RecipientCancel | RecipientSkip) for effect in decision.effects):
        campaign_progress_changed(campaign_ids=recipients.values_list("campaign_id", flat=True))
    for effect in decision.effects:
        if isinstance(effect, RecipientCancel):
            recipients.filter(state="scheduled").update(state="cancelled", reason="campaign cancelled")
        elif isinstance(effect, RecipientSkip):
            recipients.update(state="skipped", reason=effect.reason, clip="skipped")
            log.info("recipient skipped", recipient=message.campaign_recipient_id, message=message.id, reason=effect.reason)
        elif isinstance(effect, RecipientReplan):
            recipients.update(window_start=effect.window[0], window_end=effect.window[1], slot_id=effect.slot_id, clip=effect.clip)
            log.info("recipient re-planned", recipient=message.campaign_recipient_id, message=message.id,
                     window_start=effect.window[0])
        elif isinstance(effect, CampaignSendReserve):
            recipients.update(reserved_at=now)
