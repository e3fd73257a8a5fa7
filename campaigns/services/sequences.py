"""Sequences: follow-up step N goes a delay after step N−1 unless the contact replied (or read,
when the step says so); a reply on any channel stops the contact's sequence at once.

A contact has one sequence per campaign: step rows are unique per (campaign, contact, step), and
step N is planned only from the contact's step N−1 row. A stopped sequence gets a cancelled row
for the step that will not go, with the reason, so statistics show why it ended.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from campaigns.models import Campaign, CampaignRecipient, CampaignStep
from campaigns.rules import SKIPPED
from campaigns.selectors import campaign_teams
from campaigns.services.planning import INVALID_TIMEZONE, TARGET_FIELDS, Row, Target, WindowPlanner, followup_span, plan_rows
from campaigns.services.progress import campaign_progress_changed
from core.logs import entity_log
from inbox.models import ContactIdentity
from inbox.services.batches import messages_withdraw
from inbox.services.outbound import message_enqueue
from salesreps.models import Channel, SalesRepChannel
from salesreps.rules import validate_tz

log = entity_log("campaigns")
REACHED = ("sent", "delivered", "read")


def _candidates(campaign: Campaign, step: CampaignStep):
    """The contact's step N−1 rows that reached them and have no step N row yet."""
    later = CampaignRecipient.objects.filter(campaign=campaign, contact=OuterRef("contact"), step=step.number)
    return (CampaignRecipient.objects.filter(campaign=campaign, step=step.number - 1, state__in=REACHED, sent_at__isnull=False)
            .exclude(Exists(later)))


def followups_pending(*, campaign: Campaign, now: datetime) -> bool:
    return any(_candidates(campaign, step).exists() for step in campaign.steps.all())


def _delay(preferences: dict, step: CampaignStep) -> timedelta:
    hours = preferences.get("escalation_delay_hours") if isinstance(preferences, dict) else None
    if isinstance(hours, int | float) and not isinstance(hours, bool) and hours >= 0:
        return timedelta(hours=hours)
    return timedelta(hours=step.delay_hours)


class _Channels:
    """Resolves a step's channel per contact: contact.preferences["escalation_channels"][N−1]
    (a channel id, or a kind such as "sms": the contact's own channel of that kind, else the
    first active one of that kind with reps of the campaign's team), else the step's channel, else
    the campaign's. A channel without the team's reps plans nothing (plan_rows skips with NO_REP)."""

    def __init__(self, contact_ids: list[int], teams: frozenset[int] | None):
        self.by_id = {c.id: c for c in Channel.objects.filter(is_active=True)}
        self.identity: dict[tuple[int, str], int] = {}
        for contact_id, channel_id, kind in (ContactIdentity.objects.filter(contact_id__in=contact_ids, channel__is_active=True)
                                             .order_by("channel_id").values_list("contact_id", "channel_id", "channel__kind")):
            self.identity.setdefault((contact_id, kind), channel_id)
        self.first_of_kind: dict[str, int] = {}
        worked = SalesRepChannel.objects.filter(channel_id__in=self.by_id)
        if teams is not None:
            worked = worked.filter(rep__team_id__in=teams)
        for channel_id in sorted(set(worked.values_list("channel_id", flat=True))):
            self.first_of_kind.setdefault(self.by_id[channel_id].kind, channel_id)

    def resolve(self, *, contact_id: int, preferences, step: CampaignStep, campaign: Campaign) -> Channel:
        preferences = preferences if isinstance(preferences, dict) else {}
        entries = preferences.get("escalation_channels")
        opted_out = set(preferences.get("opt_outs") or ())
        if isinstance(entries, list) and len(entries) >= step.number:
            entry, found = entries[step.number - 1], None
            if isinstance(entry, int) and not isinstance(entry, bool):
                found = entry
            elif isinstance(entry, str):
                found = self.identity.get((contact_id, entry)) or self.first_of_kind.get(entry)
            if found in self.by_id and self.by_id[found].kind not in opted_out:
                return self.by_id[found]
        if step.channel_id and step.channel_id in self.by_id:
            return self.by_id[step.channel_id]
        return campaign.channel


def _stop_reason(row: dict, step: CampaignStep) -> str:
    if row["contact__opted_out"]:
        return "contact opted out"
    if row["contact__converted"]:
        return "contact converted"
    last_inbound = row["contact__last_inbound_at"]
    if row["replied_at"] is not None or (last_inbound is not None and last_inbound > row["sent_at"]):
        return "contact replied"
    if step.stop_on == "read" and row["state"] == "read":
        return "message read"
    return ""


def _plan_step(campaign: Campaign, step: CampaignStep, now: datetime) -> tuple[int, int]:
    fields = ["id", "contact_id", "sent_at", "state", "replied_at", "rep_id", "contact__preferences", "contact__last_inbound_at",
              "contact__opted_out", "contact__converted", *(f"contact__{f}" for f in TARGET_FIELDS[1:])]
    rows = list(_candidates(campaign, step).values(*fields))
    if not rows:
        return 0, 0
    channels = _Channels([r["contact_id"] for r in rows], campaign_teams(campaign))
    stopped: list[CampaignRecipient] = []
    by_channel: dict[int, list] = defaultdict(list)
    planner = WindowPlanner()
    for row in rows:
        reason = _stop_reason(row, step)
        if reason:
            stopped.append(CampaignRecipient(campaign=campaign, contact_id=row["contact_id"], step=step.number,
                                             state="cancelled", reason=reason))
            continue
        preferences = row["contact__preferences"] or {}
        not_before = row["sent_at"] + _delay(preferences, step)
        if not_before > now:
            continue
        target = Target(row["contact_id"], *(row[f"contact__{f}"] for f in TARGET_FIELDS[1:]))
        channel = channels.resolve(contact_id=row["contact_id"], preferences=preferences, step=step, campaign=campaign)
        if _valid_zone(target.tz):
            span = followup_span(not_before=not_before, tz=target.tz)
            planned = planner.row(target, [span], after=max(now, not_before), not_before=not_before, preferred_rep_id=row["rep_id"])
        else:
            planned = Row(target, None, SKIPPED, INVALID_TIMEZONE, not_before=not_before)
        by_channel[channel.id].append((channel, planned))
    CampaignRecipient.objects.bulk_create(stopped, ignore_conflicts=True)
    if stopped:
        campaign_progress_changed(campaign_ids=[campaign.id])
    planned_count = 0
    for items in by_channel.values():
        channel = items[0][0]
        result = plan_rows(campaign=campaign, channel=channel, step=step, rows=[p for _, p in items], now=now, require_reps=False)
        planned_count += result.scheduled
    if planned_count or stopped:
        log.info("follow-ups planned", campaign=campaign.id, step=step.number, planned=planned_count, stopped=len(stopped))
    return planned_count, len(stopped)


def _valid_zone(tz: str) -> bool:
    try:
        validate_tz(tz)
    except ValueError:
        return False
    return True


def followups_plan(*, now: datetime | None = None, campaign_ids: list[int] | None = None) -> int:
    """Plan every follow-up that is due (periodic task); returns how many were scheduled."""
    now = now or timezone.now()
    live = Campaign.objects.filter(status__in=["scheduled", "running"], steps__isnull=False).distinct()
    if campaign_ids:
        live = live.filter(pk__in=campaign_ids)
    total = 0
    for campaign_id in live.order_by("id").values_list("id", flat=True):
        with transaction.atomic():
            campaign = (Campaign.objects.select_for_update(of=("self",)).select_related("channel", "template")
                        .filter(pk=campaign_id, status__in=["scheduled", "running"]).first())
            if campaign is None:
                continue
            for step in campaign.steps.select_related("channel", "template").order_by("number"):
                total += _plan_step(campaign, step, now)[0]
    if total:
        message_enqueue(message_id=0)  # any id: it only wakes a dispatcher, the rows are the schedule
    return total


def sequence_stop(*, contact_id: int, at: datetime | None, reason: str = "contact replied") -> int:
    """Every follow-up still to go to the contact, in any campaign, is withdrawn now. The message
    rows are taken with skip_locked: one a worker is sending right now is held by decide()."""
    pending = list(CampaignRecipient.objects.filter(contact_id=contact_id, step__gt=0, state="scheduled")
                   .values_list("id", "message_id", "campaign_id"))
    if not pending:
        return 0
    message_ids = [m for _, m, _ in pending if m]
    with transaction.atomic():
        campaign_progress_changed(campaign_ids=[c for _, _, c in pending])
        messages_withdraw(message_ids=message_ids, reason=f"sequence stopped: {reason}", at=at or timezone.now(), skip_locked=True)
        return CampaignRecipient.objects.filter(pk__in=[r for r, _, _ in pending], state="scheduled").update(state="cancelled",
                                                                                                           reason=reason)
