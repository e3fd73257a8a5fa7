"""Slots: recipients not reached when their window (slot) ends move on to the next one; and
forgotten leads get another attempt in the next slot."""
from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from campaigns.models import Campaign, CampaignRecipient
from campaigns.selectors import PENDING_MESSAGE, audience_contacts, reachable_on
from campaigns.services.campaigns import PAUSED_CODE
from campaigns.services.dispatch import recipient_replan, target_of
from campaigns.services.planning import BATCH, Span, WindowPlanner, campaign_spans, plan_rows, targets_from
from campaigns.services.progress import campaign_progress_changed
from core.logs import entity_log
from inbox.models import Conversation, Message
from inbox.services.batches import messages_lock_waiting, messages_replan
from inbox.services.outbound import message_enqueue
from salesreps.rules import local_label

log = entity_log("campaigns")
DEFAULT_MAX_ATTEMPTS = 3


def recipients_recycle(*, now: datetime | None = None, limit: int = 20000) -> dict[str, int]:
    """The slot recycler (periodic): every scheduled recipient of a live campaign whose window
    has ended unsent is re-planned into its next window — later allowed hours of its span, else
    the next slot — or, with none left, skipped with the reason and its message withdrawn.
    Message rows are locked first (skip_locked, the dispatcher's lock order), then recipients."""
    now = now or timezone.now()
    counts = {"recycled": 0, "skipped": 0}
    overdue = list(
        CampaignRecipient.objects.filter(state="scheduled", window_end__lte=now, message_id__isnull=False,
                                         campaign__status__in=["scheduled", "running"])
        .select_related("campaign", "contact").order_by("id")[:limit]
    )
    planner = WindowPlanner()
    spans: dict[int, list[Span]] = {}
    for i in range(0, len(overdue), BATCH):
        batch = overdue[i:i + BATCH]
        with transaction.atomic():
            free = messages_lock_waiting(message_ids=[r.message_id for r in batch], exclude_code=PAUSED_CODE)
            moved: list[CampaignRecipient] = []
            deferred: list[tuple[int, datetime, str]] = []
            withdrawn: list[tuple[int, str]] = []
            for recipient in batch:
                if recipient.message_id not in free:
                    continue
                campaign_spans_ = spans.setdefault(recipient.campaign_id, campaign_spans(recipient.campaign))
                target = target_of(recipient.contact)
                row = recipient_replan(recipient, target, after=now, planner=planner, spans=campaign_spans_)
                if row.window is None:
                    recipient.state, recipient.reason, recipient.clip = "skipped", row.reason, "skipped"
                    withdrawn.append((recipient.message_id, f"campaign window ended unsent ({row.reason})"))
                    counts["skipped"] += 1
                else:
                    previous_slot = recipient.slot_id
                    recipient.window_start, recipient.window_end = row.window
                    recipient.slot_id, recipient.clip = row.slot_id, row.clip
                    where = "the next slot" if row.slot_id != previous_slot else "the contact's next allowed hours"
                    deferred.append((recipient.message_id, row.window[0],
                                     f"not reached in time: recycled into {where}, {local_label(row.window[0], target.tz)}"))
                    counts["recycled"] += 1
                moved.append(recipient)
            CampaignRecipient.objects.bulk_update(moved, ["state", "reason", "clip", "window_start", "window_end", "slot"])
            campaign_progress_changed(campaign_ids=[r.campaign_id for r in moved])
            messages_replan(deferred=deferred, withdrawn=withdrawn, code="contact_window")
    if counts["recycled"] or counts["skipped"]:
        log.info("recipients recycled", **counts)
    return counts


def forgotten_leads_recover(*, now: datetime | None = None, campaign_ids: list[int] | None = None,
                            max_attempts: int = DEFAULT_MAX_ATTEMPTS, on_total=None, progress=None) -> dict[str, int]:
    """For each live slot campaign: every audience contact with fewer than `max_attempts`
    attempts, not converted, with no pending outbound message and no open conversation with a
    rep (one the contact has written in), and nothing scheduled in the campaign, gets a message
    in the next slot that has not begun for them. Returns planned / skipped counts."""
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    now = now or timezone.now()
    live = Campaign.objects.filter(status__in=["scheduled", "running"], slots__isnull=False).distinct()
    if campaign_ids:
        live = live.filter(pk__in=campaign_ids)
    totals = {"planned": 0, "no_slot": 0}
    for campaign_id in live.order_by("id").values_list("id", flat=True):
        with transaction.atomic():
            campaign = (Campaign.objects.select_for_update(of=("self",)).select_related("channel", "template")
                        .filter(pk=campaign_id, status__in=["scheduled", "running"]).first())
            if campaign is None:
                continue
            rows_of = CampaignRecipient.objects.filter(campaign=campaign, contact=OuterRef("pk"))
            pending = Message.objects.filter(conversation__contact=OuterRef("pk"), direction="out", status__in=PENDING_MESSAGE)
            talking = Conversation.objects.filter(contact=OuterRef("pk"), status__in=["open", "pending"], rep__isnull=False,
                                                  last_inbound_at__isnull=False)
            contacts = (reachable_on(audience_contacts(campaign), campaign.channel).filter(converted=False)
                        .exclude(Exists(rows_of.filter(state="scheduled")))
                        .exclude(Exists(rows_of.filter(step=0, attempts__gte=max_attempts)))
                        .exclude(Exists(pending)).exclude(Exists(talking)))
            targets = targets_from(contacts)
            if on_total:
                on_total(len(targets))
            existing = dict(CampaignRecipient.objects.filter(campaign=campaign, step=0, contact_id__in=[t.contact_id for t in targets])
                            .values_list("contact_id", "id")) if targets else {}
            attempts = dict(CampaignRecipient.objects.filter(pk__in=existing.values()).values_list("id", "attempts"))
            spans = campaign_spans(campaign)
            planner = WindowPlanner()
            rows = []
            for target in targets:
                recipient_id = existing.get(target.contact_id)
                row = planner.row(target, spans, after=now, unstarted=True, preferred_rep_id=target.owner_id,
                                  recipient_id=recipient_id, attempts=attempts.get(recipient_id, 0))
                if row.window is None:
                    totals["no_slot"] += 1
                    continue
                rows.append(row)
            if rows:
                result = plan_rows(campaign=campaign, channel=campaign.channel, step=None, rows=rows, now=now,
                                   progress=progress, require_reps=False)
                totals["planned"] += result.scheduled
                log.info("forgotten leads planned", campaign=campaign.id, planned=result.scheduled)
    if totals["planned"]:
        message_enqueue(message_id=0)  # any id: it only wakes a dispatcher, the rows are the schedule
    return totals
