"""Campaign lifecycle: create and edit drafts, start (expand), pause, resume, cancel, complete.

draft → scheduled (expanded; messages queued for each contact's window) → running (first
window open or first send) → completed (nothing left to send or plan); scheduled / running ⇄
paused; anything not finished → cancelled. Start and resume move a campaign whose first window
has already begun straight to running; beat's campaigns_advance moves those whose start was
still ahead when the window opens.

Pause parks unsent messages as `deferred` with defer_code "campaign_paused" and a due time far
ahead (PAUSED_UNTIL), so claim_due never picks them and the rows keep their planned window;
resume puts them back to `queued` at their window start (or now, if that has passed: dispatch
then re-plans them into the contact's next window). Cancel withdraws them (status cancelled)
and marks their recipients cancelled. A message a worker already claimed (status sending) when
the campaign is paused or cancelled is held by decide()'s campaign check instead.
The message rows change only through inbox/services/batches.py, which sends no socket event for
these bulk changes (its docstring says why).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Subquery
from django.db.models.functions import Greatest
from django.utils import timezone

from campaigns.models import Campaign, CampaignRecipient, CampaignSlot, CampaignStep, wall_clock
from campaigns.selectors import audience_contacts, campaign_message_ids, campaign_teams, channel_rep_channels
from campaigns.services.expansion import campaign_expand
from campaigns.services.planning import ZONE_BEHIND, PlanResult
from campaigns.services.progress import campaign_progress_changed
from campaigns.services.sequences import followups_pending
from campaigns.validation import missing_variables, normalize_audience
from core.logs import entity_log
from inbox.models import Template
from inbox.sending import PAUSED_CODE, PAUSED_REASON, PAUSED_UNTIL
from inbox.services.batches import messages_park, messages_requeue, messages_withdraw
from inbox.services.outbound import message_enqueue
from salesreps.models import Channel, SalesRep, Team
from salesreps.selectors import managed_team_ids

log = entity_log("campaigns")
CAMPAIGN_FIELDS = ("name", "channel", "template", "text", "variables", "audience", "start_at", "end_at", "daily_cap")


class CampaignNotFound(Exception):
    pass


# ---- checks ----------------------------------------------------------------------------------


def _texts(text: str, template: Template | None) -> list[str]:
    if template is not None:
        return [template.body, *template.translations.values()]
    return [text]


def _check_content(*, what: str, text: str, template: Template | None, variables: dict, required: bool) -> None:
    if text.strip() and template is not None:
        raise ValueError(f"{what}: give a text or a template, not both")
    if not text.strip() and template is None:
        if required:
            raise ValueError(f"{what}: give a text or a template")
        return
    if len(text) > 4096:
        raise ValueError(f"{what}: text is longer than 4096 characters")
    missing = missing_variables(_texts(text, template), variables)
    if missing:
        source = f"template {template.name!r}" if template is not None else "text"
        raise ValueError(f"{what}: {source} is missing variables: {', '.join(missing)} (add them to variables)")


def _check_channel(channel: Channel, teams: frozenset[int] | None, what: str = "channel") -> None:
    """A campaign sends only on channels its team's reps work (any rep's, for a campaign of no team)."""
    if not channel.is_active:
        raise ValueError(f"{what} {channel.name!r} is not active")
    if not channel_rep_channels(channel.id, teams=teams):
        if teams is not None:
            raise ValueError(f"{what} {channel.name!r} has no reps of the campaign's team: use a channel your reps work")
        raise ValueError(f"{what} {channel.name!r} has no reps: add a rep to it before running a campaign")


def _check_pool(campaign: Campaign, reps: list[SalesRep], teams: frozenset[int] | None) -> None:
    """The rep pool holds reps of the campaign's team only, and one of them at least works its
    channel; raised as a ValidationError on `reps` naming the rep (the API answers 400)."""
    if not reps:
        return
    for rep in sorted(reps, key=lambda r: r.id):
        if teams is not None and rep.team_id not in teams:
            raise ValidationError({"reps": [f"rep {rep.id} ({rep.full_name}) is not a rep of the campaign's team: "
                                            "choose the pool among your team's reps"]})
    working = {rc.rep_id for rc in channel_rep_channels(campaign.channel_id, teams=teams)}
    if not working & {rep.id for rep in reps}:
        names = ", ".join(f"{rep.id} ({rep.full_name})" for rep in sorted(reps, key=lambda r: r.id))
        raise ValidationError({"reps": [f"no rep of the pool ({names}) works channel {campaign.channel.name!r}: "
                                        "add one who does, or leave the pool empty"]})


def campaign_check(*, campaign: Campaign, steps: list[dict], slots: list[dict], audience_required: bool = True,
                   reps: list[SalesRep] | None = None) -> None:
    """Every problem of a campaign's input, raised as ValueError naming it (the API answers 400);
    a rep pool outside the team as a ValidationError on `reps`."""
    if not campaign.name.strip():
        raise ValueError("name is empty")
    if campaign.end_at <= campaign.start_at:
        raise ValueError("end_at must be after start_at")
    if campaign.daily_cap is not None and campaign.daily_cap < 1:
        raise ValueError("daily_cap must be at least 1 (leave it empty for no cap)")
    if not isinstance(campaign.variables, dict) or not all(
            isinstance(v, str | int | float) and not isinstance(v, bool) for v in campaign.variables.values()):
        raise ValueError("variables must map names to text or numbers")
    campaign.audience = normalize_audience(campaign.audience)
    _check_content(what="campaign", text=campaign.text, template=campaign.template, variables=campaign.variables, required=True)
    teams = campaign_teams(campaign)
    _check_channel(campaign.channel, teams)
    _check_pool(campaign, list(reps or []), teams)
    numbers = sorted(s["number"] for s in steps)
    if numbers != list(range(1, len(steps) + 1)):
        raise ValueError(f"steps must be numbered 1, 2, 3… without gaps (got {numbers})")
    for step in steps:
        what = f"step {step['number']}"
        if step.get("stop_on", "reply") not in ("reply", "read"):
            raise ValueError(f"{what}: stop_on must be 'reply' or 'read'")
        _check_content(what=what, text=step.get("text", ""), template=step.get("template"), variables=campaign.variables,
                       required=False)
        if step.get("channel") is not None:
            _check_channel(step["channel"], teams, f"{what}: channel")
    start, end = wall_clock(campaign.start_at), wall_clock(campaign.end_at)
    previous_end = None
    for slot in sorted(slots, key=lambda s: s["start_at"]):
        lo, hi = wall_clock(slot["start_at"]), wall_clock(slot["end_at"])
        if hi <= lo:
            raise ValueError(f"slot {lo:%Y-%m-%d %H:%M}: end_at must be after start_at")
        if lo < start or hi > end:
            raise ValueError(f"slot {lo:%Y-%m-%d %H:%M}–{hi:%Y-%m-%d %H:%M} lies outside the campaign window")
        if previous_end is not None and lo < previous_end:
            raise ValueError(f"slot {lo:%Y-%m-%d %H:%M} overlaps the slot before it")
        previous_end = hi
    if audience_required and not audience_contacts(campaign).exists():
        raise ValueError("audience matches no contacts (opted-out contacts never match): widen the filters")


# ---- drafts ----------------------------------------------------------------------------------


def _write_children(campaign: Campaign, steps: list[dict] | None, slots: list[dict] | None) -> None:
    if steps is not None:
        campaign.steps.all().delete()
        CampaignStep.objects.bulk_create(CampaignStep(campaign=campaign, **step) for step in steps)
    if slots is not None:
        campaign.slots.all().delete()
        CampaignSlot.objects.bulk_create(CampaignSlot(campaign=campaign, **slot) for slot in slots)


def _campaign_team(user, requested: Team | None) -> Team | None:
    """The team a new campaign belongs to: the one asked for, if the user manages it; else the one
    team the user manages; none (every team's contacts and reps) for an admin who names none."""
    teams = managed_team_ids(user)
    if requested is not None:
        if teams is not None and requested.id not in teams:
            raise PermissionDenied(f"team {requested.id} is not a team you manage")
        return requested
    if teams is None:
        return None
    if len(teams) != 1:
        raise PermissionDenied("only admins and the managers of a team run campaigns" if not teams
                               else "you manage several teams: name the campaign's team")
    return Team.objects.get(pk=next(iter(teams)))


@transaction.atomic
def campaign_create(*, user, data: dict) -> Campaign:
    """A draft campaign; `data` holds the model fields plus `steps` and `slots` (lists of dicts) and
    optionally `team` (fixed once created: see _campaign_team)."""
    steps, slots = list(data.get("steps") or []), list(data.get("slots") or [])
    campaign = Campaign(created_by=user if user and user.is_authenticated else None, team=_campaign_team(user, data.get("team")),
                        **{k: data[k] for k in CAMPAIGN_FIELDS if k in data})
    campaign.text = campaign.text or ""
    reps = list(data.get("reps") or [])
    campaign_check(campaign=campaign, steps=steps, slots=slots, reps=reps)
    campaign.save()
    _write_children(campaign, steps, slots)
    campaign.reps.set(reps)
    log.info("campaign created", campaign=campaign.id, by_user=getattr(user, "id", None))
    return campaign


def _locked(campaign_id: int) -> Campaign:
    campaign = Campaign.objects.select_for_update(of=("self",)).select_related("channel", "template").filter(pk=campaign_id).first()
    if campaign is None:
        raise CampaignNotFound(f"campaign {campaign_id} not found")
    return campaign


@transaction.atomic
def campaign_update(*, campaign_id: int, data: dict) -> Campaign:
    campaign = _locked(campaign_id)
    if campaign.status != Campaign.Status.DRAFT:
        raise ValueError(f"campaign is {campaign.status}: only a draft can be edited")
    if "team" in data and getattr(data["team"], "id", None) != campaign.team_id:
        raise ValueError("a campaign's team is set when it is created: make a new campaign for another team")
    for key in CAMPAIGN_FIELDS:
        if key in data:
            setattr(campaign, key, data[key])
    steps = data.get("steps")
    slots = data.get("slots")
    current_steps = [{"number": s.number, "delay_hours": s.delay_hours, "channel": s.channel, "text": s.text,
                      "template": s.template, "stop_on": s.stop_on} for s in campaign.steps.select_related("channel", "template")]
    current_slots = [{"start_at": s.start_at, "end_at": s.end_at} for s in campaign.slots.all()]
    reps = data.get("reps")
    campaign_check(campaign=campaign, steps=current_steps if steps is None else steps,
                   slots=current_slots if slots is None else slots, reps=list(campaign.reps.all()) if reps is None else reps)
    campaign.save()
    _write_children(campaign, steps, slots)
    if reps is not None:
        campaign.reps.set(reps)
    log.info("campaign updated", campaign=campaign.id)
    return campaign


@transaction.atomic
def campaign_delete(*, campaign_id: int) -> None:
    campaign = _locked(campaign_id)
    if campaign.status != Campaign.Status.DRAFT:
        raise ValueError(f"campaign is {campaign.status}: only a draft can be deleted (cancel it instead)")
    campaign.delete()
    log.info("campaign deleted", campaign=campaign_id)


# ---- start -----------------------------------------------------------------------------------


def _opened_rows(campaign, now: datetime):
    """Recipients whose window has begun at `now`: their campaign is running (campaign may be an
    id or an OuterRef)."""
    return CampaignRecipient.objects.filter(campaign=campaign, window_start__lte=now)


def _window_opened(campaign_id: int, now: datetime) -> bool:
    return _opened_rows(campaign_id, now).exists()


def campaign_start(*, campaign_id: int, now: datetime | None = None,
                   progress: Callable[[int], None] | None = None, on_total: Callable[[int], None] | None = None) -> PlanResult:
    """Expand a draft into one recipient per audience contact and queue their messages; all or
    nothing (one transaction under the campaign row lock). Bad input raises ValueError."""
    now = now or timezone.now()
    with transaction.atomic():
        campaign = _locked(campaign_id)
        if campaign.status != Campaign.Status.DRAFT:
            raise ValueError(f"campaign is {campaign.status}: only a draft can be started")
        steps = [{"number": s.number, "delay_hours": s.delay_hours, "channel": s.channel, "text": s.text,
                  "template": s.template, "stop_on": s.stop_on} for s in campaign.steps.select_related("channel", "template")]
        slots = [{"start_at": s.start_at, "end_at": s.end_at} for s in campaign.slots.all()]
        campaign_check(campaign=campaign, steps=steps, slots=slots, reps=list(campaign.reps.all()))
        if wall_clock(campaign.end_at) + ZONE_BEHIND <= now.astimezone(UTC).replace(tzinfo=None):
            raise ValueError("the campaign window has already passed in every time zone: move end_at later")
        result = campaign_expand(campaign=campaign, now=now, progress=progress, on_total=on_total)
        if result.scheduled == 0:
            reasons = ", ".join(f"{k}: {v}" for k, v in sorted(result.reasons.items()))
            raise ValueError(f"no contact of the audience can be reached in the campaign window ({reasons})")
        campaign.status = Campaign.Status.RUNNING if _window_opened(campaign.id, now) else Campaign.Status.SCHEDULED
        campaign.started_at = now
        campaign.save(update_fields=["status", "started_at", "audience"])
        campaign_progress_changed(campaign_ids=[campaign.id])
        message_enqueue(message_id=0)  # any id: it only wakes a dispatcher, the rows are the schedule
    log.info("campaign started", campaign=campaign.id, scheduled=result.scheduled, skipped=result.skipped,
             **{f"excluded_{reason}": n for reason, n in result.excluded.items()})
    return result


# ---- pause / resume / cancel -----------------------------------------------------------------


@transaction.atomic
def campaign_pause(*, campaign_id: int) -> int:
    campaign = _locked(campaign_id)
    if not campaign.is_live:
        raise ValueError(f"campaign is {campaign.status}: only a scheduled or running campaign can be paused")
    parked = messages_park(message_ids=campaign_message_ids(campaign_id), until=PAUSED_UNTIL, code=PAUSED_CODE,
                           reason=PAUSED_REASON)
    campaign.status = Campaign.Status.PAUSED
    campaign.save(update_fields=["status"])
    campaign_progress_changed(campaign_ids=[campaign.id])
    log.info("campaign paused", campaign=campaign.id, messages=parked)
    return parked


@transaction.atomic
def campaign_resume(*, campaign_id: int, now: datetime | None = None) -> int:
    now = now or timezone.now()
    campaign = _locked(campaign_id)
    if campaign.status != Campaign.Status.PAUSED:
        raise ValueError(f"campaign is {campaign.status}: only a paused campaign can be resumed")
    window_start = CampaignRecipient.objects.filter(message_id=OuterRef("pk")).values("window_start")[:1]
    requeued = messages_requeue(message_ids=campaign_message_ids(campaign_id), parked_code=PAUSED_CODE,
                                due_at=Greatest(Subquery(window_start), now))
    reached = CampaignRecipient.objects.filter(campaign=campaign, sent_at__isnull=False).exists()
    campaign.status = Campaign.Status.RUNNING if reached or _window_opened(campaign.id, now) else Campaign.Status.SCHEDULED
    campaign.save(update_fields=["status"])
    campaign_progress_changed(campaign_ids=[campaign.id])
    message_enqueue(message_id=0)  # any id: it only wakes a dispatcher, the rows are the schedule
    log.info("campaign resumed", campaign=campaign.id, messages=requeued)
    return requeued


@transaction.atomic
def campaign_cancel(*, campaign_id: int, now: datetime | None = None) -> int:
    now = now or timezone.now()
    campaign = _locked(campaign_id)
    if campaign.status in (Campaign.Status.COMPLETED, Campaign.Status.CANCELLED):
        raise ValueError(f"campaign is already {campaign.status}")
    withdrawn = messages_withdraw(message_ids=campaign_message_ids(campaign_id), reason="campaign cancelled", at=now)
    CampaignRecipient.objects.filter(campaign=campaign, state="scheduled").update(state="cancelled", reason="campaign cancelled")
    campaign.status, campaign.finished_at = Campaign.Status.CANCELLED, now
    campaign.save(update_fields=["status", "finished_at"])
    campaign_progress_changed(campaign_ids=[campaign.id])
    log.info("campaign cancelled", campaign=campaign.id, messages=withdrawn)
    return withdrawn


# ---- keeping states true ---------------------------------------------------------------------


def recipients_sync_states(*, campaign_ids: list[int]) -> int:
    """A scheduled recipient whose message the dispatcher refused (opt-out, provider error) or
    withdrew takes that outcome and its code as reason. Set-based; outbound's own failure path
    does not call campaign hooks."""
    if not campaign_ids:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE campaigns_campaignrecipient r
               SET state = CASE WHEN m.status = 'failed' THEN 'failed' ELSE 'cancelled' END,
                   reason = LEFT(COALESCE(NULLIF(m.error_code, ''), NULLIF(m.defer_reason, ''), m.status), 200)
              FROM inbox_message m
             WHERE m.id = r.message_id AND r.state = 'scheduled' AND m.status IN ('failed', 'cancelled')
               AND r.campaign_id = ANY(%s)
            """,
            [list(campaign_ids)],
        )
        return cursor.rowcount


def campaigns_advance(*, now: datetime | None = None) -> dict[str, int]:
    """scheduled → running once a window opened or a message went; running → completed once
    nothing is scheduled and no follow-up is still to come."""
    now = now or timezone.now()
    live = list(Campaign.objects.filter(status__in=["scheduled", "running"]).values_list("id", flat=True))
    recipients_sync_states(campaign_ids=live)
    moved = {"running": 0, "completed": 0}
    scheduled_rows = CampaignRecipient.objects.filter(campaign=OuterRef("pk"), state="scheduled")
    started = _opened_rows(OuterRef("pk"), now)
    opened = list(Campaign.objects.filter(pk__in=live, status="scheduled").filter(Exists(started)).values_list("id", flat=True))
    with transaction.atomic():
        moved["running"] = Campaign.objects.filter(pk__in=opened, status="scheduled").update(status="running")
        campaign_progress_changed(campaign_ids=opened)
    for campaign in Campaign.objects.filter(pk__in=live).exclude(Exists(scheduled_rows)).order_by("id"):
        with transaction.atomic():
            locked = _locked(campaign.id)
            if not locked.is_live or CampaignRecipient.objects.filter(campaign=locked, state="scheduled").exists():
                continue
            if followups_pending(campaign=locked, now=now):
                continue
            locked.status, locked.finished_at = Campaign.Status.COMPLETED, now
            locked.save(update_fields=["status", "finished_at"])
            campaign_progress_changed(campaign_ids=[locked.id])
            moved["completed"] += 1
            log.info("campaign completed", campaign=locked.id)
    return moved

