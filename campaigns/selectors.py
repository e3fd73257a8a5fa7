"""Reads shared by the campaign API, commands, services and reports."""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime

from django.db.models import Count, Min, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import ExtractHour, TruncHour

from campaigns import rules as campaign_rules
from campaigns.models import Campaign, CampaignRecipient
from core.errors import AccessDenied
from inbox.models import Contact, Message
from inbox.selectors import contacts_for, team_contacts
from salesreps import rules as rep_rules
from salesreps.models import ActivityRecord, SalesRep, SalesRepChannel
from salesreps.selectors import allowances_on, managed_team_ids, manages_a_team, max_capacity, message_activity, schedule_for

PENDING_MESSAGE = ("queued", "deferred", "sending")
REACHED = ("sent", "delivered", "read")


# ---- who sees what -----------------------------------------------------------------------------


def can_manage_campaigns(user) -> bool:
    """Admins and the managers of a team (a manager without one has no contacts or reps to run them on)."""
    return manages_a_team(user)


def campaigns_for(user) -> QuerySet[Campaign]:
    """The campaigns of the teams the user manages (managed_team_ids); admins see every one."""
    teams = managed_team_ids(user)
    return Campaign.objects.all() if teams is None else Campaign.objects.filter(team_id__in=teams)


def campaign_teams(campaign: Campaign) -> frozenset[int] | None:
    """The teams whose contacts and reps the campaign uses: its own, or every one (None) without."""
    return None if campaign.team_id is None else frozenset({campaign.team_id})


def campaign_pool(campaign: Campaign) -> frozenset[int] | None:
    """The ids of the reps the campaign sends through (its rep pool); None: no pool, any of its
    team's reps on the channel."""
    if campaign.pk is None:
        return None
    ids = frozenset(campaign.reps.values_list("id", flat=True))
    return ids or None


def contact_campaigns(*, user, contact_id: int) -> list[dict]:
    """The campaigns a contact the user may see is in (AccessDenied otherwise), newest first, each with
    the contact's row per step: the first send (step 0) and the sequence's follow-ups. The contact
    panel shows them to the rep who talks to that person, whose managers run the campaign."""
    if not contacts_for(user).filter(pk=contact_id).exists():
        raise AccessDenied(f"contact {contact_id} not found")
    rows = (CampaignRecipient.objects.filter(contact_id=contact_id).select_related("campaign")
            .annotate(steps=Count("campaign__steps", distinct=True)).order_by("-campaign_id", "step"))
    out: dict[int, dict] = {}
    for row in rows:
        campaign = out.setdefault(row.campaign_id, {
            "id": row.campaign_id, "name": row.campaign.name, "status": row.campaign.status,
            "follow_up_steps": row.steps, "steps": []})
        campaign["steps"].append({"step": row.step, "state": row.state, "reason": row.reason,
                                  "sent_at": row.sent_at, "replied_at": row.replied_at})
    return list(out.values())


# ---- audience ----------------------------------------------------------------------------------


def audience_contacts(campaign: Campaign, *, opted_out: bool = False) -> QuerySet[Contact]:
    """The contacts of the campaign's team (inbox.selectors.team_contacts) matching its normalized
    audience filter; opted-out contacts never match (with opted_out=True: only they do, to count
    who the filter left out and why)."""
    audience = campaign.audience
    contacts = team_contacts(campaign_teams(campaign)).filter(opted_out=opted_out)
    if audience.get("tags_any"):
        contacts = contacts.filter(tags__overlap=audience["tags_any"])
    if audience.get("tags_all"):
        contacts = contacts.filter(tags__contains=audience["tags_all"])
    if audience.get("operator_code"):
        contacts = contacts.filter(operator_code__in=audience["operator_code"])
    if audience.get("country"):
        contacts = contacts.filter(country__in=audience["country"])
    if audience.get("min_score") is not None:
        contacts = contacts.filter(lead_score__gte=audience["min_score"])
    return contacts


def consent_excluded(campaign: Campaign, channel) -> dict[str, int]:
    """How many contacts the audience filter matches that consent keeps out, by reason."""
    matching = audience_contacts(campaign)
    counts = {"opted_out": audience_contacts(campaign, opted_out=True).count(),
              "opted_out_channel": matching.count() - reachable_on(matching, channel).count()}
    return {reason: n for reason, n in counts.items() if n}


def reachable_on(contacts: QuerySet[Contact], channel) -> QuerySet[Contact]:
    """Leaves out contacts who opted out of the channel's kind (preferences["opt_outs"]), whom
    dispatch would refuse anyway ("opted_out_channel")."""
    # has_key first: for contacts without the key the containment is NULL, and NOT NULL drops the row.
    return contacts.exclude(Q(preferences__has_key="opt_outs") & Q(preferences__opt_outs__contains=[channel.kind]))


# ---- reps and their capacity -----------------------------------------------------------------


def channel_rep_channels(channel_id: int, *, teams: frozenset[int] | None,
                         pool: frozenset[int] | None = None) -> list[SalesRepChannel]:
    """The channel's rep-channels whose rep can work (active user) and is in one of `teams`
    (None: any team, or none), and in the campaign's rep `pool` if it has one: a campaign sends
    only on its own team's (pool's) reps' capacity."""
    rep_channels = SalesRepChannel.objects.filter(channel_id=channel_id, rep__user__is_active=True)
    if teams is not None:
        rep_channels = rep_channels.filter(rep__team_id__in=teams)
    if pool is not None:
        rep_channels = rep_channels.filter(rep_id__in=pool)
    return list(rep_channels.select_related("rep", "channel").order_by("rep_id"))


def rep_capacity_days(*, rep_channel: SalesRepChannel, start: datetime, end: datetime, now: datetime,
                      horizon_days: int = 62) -> list[tuple[list[tuple[datetime, datetime]], int]]:
    """The rep-channel's shift days with an open shift between `start` and `end` (from now on),
    each as (its open intervals, sends it has left): the day's allowance (warm-up ramp; stored
    days as stored) within the cap, less what the ledger already holds. Writes nothing."""
    if not rep_channel.is_available or not rep_channel.rep.is_available:
        return []
    activity = message_activity(rep_channel)
    cap = max_capacity(rep_channel, activity)
    if cap == 0:
        return []
    schedule = schedule_for(rep_channel, activity)
    begin = max(start, now)
    if end <= begin:
        return []
    days_after = min(horizon_days, (end - begin).days + 2)
    intervals: dict[date, list[tuple[datetime, datetime]]] = defaultdict(list)
    for opens, closes, day in rep_rules.shift_intervals(schedule=schedule, around=begin, days_after=days_after):
        if closes > begin and opens < end:
            intervals[day].append((max(opens, begin), closes))
    days = sorted(intervals)
    if not days:
        return []
    allowances = allowances_on(rep_channel, activity, days)
    used: dict[date, int] = {}
    if activity is not None:
        used = dict(ActivityRecord.objects.filter(rep_channel_activity=activity, shift_day__in=days)
                    .values("shift_day").annotate(n=Count("id")).values_list("shift_day", "n"))
    out = []
    for day in days:
        allowance = allowances[day][0]
        out.append((sorted(intervals[day]), rep_rules.remaining(allowance=min(allowance, cap), used=used.get(day, 0))))
    return out


# ---- statistics --------------------------------------------------------------------------------


def campaign_message_ids(campaign_id: int) -> QuerySet:
    """The ids of the campaign's messages, as a subquery (never fetched: a campaign has 100,000)."""
    return CampaignRecipient.objects.filter(campaign_id=campaign_id, message_id__isnull=False).values("message_id")


def campaign_messages(campaign_id: int) -> QuerySet[Message]:
    return Message.objects.filter(pk__in=campaign_message_ids(campaign_id))


def _effective_states(recipients: QuerySet[CampaignRecipient]) -> tuple[Counter, dict[str, Counter]]:
    """Recipient counts by state and reasons. A scheduled recipient whose message the dispatcher
    refused (opt-out, provider) counts as failed with the message's reason, even before the
    periodic sync writes that onto the recipient row."""
    states: Counter = Counter()
    reasons: dict[str, Counter] = defaultdict(Counter)
    for state, reason, n in recipients.values_list("state", "reason").annotate(n=Count("id")).order_by():
        states[state] += n
        if state in ("skipped", "failed", "cancelled"):
            reasons[state][reason or "unknown"] += n
    refused = (Message.objects.filter(pk__in=recipients.filter(state="scheduled").values("message_id"),
                                      status__in=["failed", "cancelled"])
               .values_list("status", "error_code").annotate(n=Count("id")).order_by())
    for status, code, n in refused:
        states["scheduled"] -= n
        states[status] += n
        reasons[status][code or status] += n
    return states, reasons


def campaign_progress(campaign: Campaign) -> dict:
    """The campaign's figures the console keeps live (the `campaign.progress` payload): recipients
    by effective state, the progress figures (rules.progress_figures), reasons, replies, next send."""
    recipients = CampaignRecipient.objects.filter(campaign=campaign)
    states, reasons = _effective_states(recipients)
    by_state = {state: states.get(state, 0) for state in CampaignRecipient.State.values}
    total = sum(by_state.values())
    replied = recipients.filter(replied_at__isnull=False).count()
    first = recipients.filter(state="scheduled").aggregate(at=Min("window_start"))["at"]
    return {
        "campaign_id": campaign.id,
        "team_id": campaign.team_id,
        "status": campaign.status,
        "recipients": total,
        "by_state": by_state,
        "progress": campaign_rules.progress_figures(by_state=by_state, recipients=total, replied=replied),
        "reasons": {state: dict(counter.most_common()) for state, counter in sorted(reasons.items()) if counter},
        "replied": replied,
        "next_send_at": first.isoformat() if first else None,
    }


def campaign_recipients(campaign: Campaign, *, state: str = "", step: int | None = None) -> QuerySet[CampaignRecipient]:
    """The campaign's recipients, best leads first, each with its message's state (message_id is no
    foreign key: recipients are written in bulk) and the contact's zone, for the reason shown."""
    message = Message.objects.filter(pk=OuterRef("message_id"))
    rows = (CampaignRecipient.objects.filter(campaign=campaign).select_related("contact", "rep")
            .annotate(message_status=Subquery(message.values("status")[:1]),
                      message_defer_reason=Subquery(message.values("defer_reason")[:1]),
                      message_error_title=Subquery(message.values("error_title")[:1]),
                      message_due_at=Subquery(message.values("due_at")[:1])))
    if state:
        rows = rows.filter(state=state)
    if step is not None:
        rows = rows.filter(step=step)
    return rows.order_by("-contact__lead_score", "id")


def campaign_stats(campaign: Campaign) -> dict:
    recipients = CampaignRecipient.objects.filter(campaign=campaign)
    live = campaign_progress(campaign)
    by_state = live["by_state"]
    clips = dict(recipients.exclude(clip="").values_list("clip").annotate(n=Count("id")).order_by())
    steps = {str(step): n for step, n in recipients.values_list("step").annotate(n=Count("id")).order_by("step")}
    reps = {rep.id: rep.full_name for rep in SalesRep.objects.filter(pk__in=recipients.values("rep_id"))}
    per_rep: dict[int | None, dict] = {}
    for rep_id, state, n in recipients.values_list("rep_id", "state").annotate(n=Count("id")).order_by("rep_id"):
        row = per_rep.setdefault(rep_id, {"rep_id": rep_id, "rep_name": reps.get(rep_id, ""), "total": 0,
                                          **dict.fromkeys(CampaignRecipient.State.values, 0)})
        row[state] += n
        row["total"] += n
    hourly = (recipients.filter(sent_at__isnull=False).annotate(hour=TruncHour("sent_at")).values("hour")
              .annotate(sent=Count("id"), delivered=Count("id", filter=Q(state__in=["delivered", "read"])),
                        read=Count("id", filter=Q(state="read")))
              .order_by("hour"))
    reached = sum(by_state[s] for s in REACHED)
    delivered = by_state["delivered"] + by_state["read"]
    return {
        "campaign_id": campaign.id,
        "name": campaign.name,
        "status": campaign.status,
        "recipients": live["recipients"],
        "by_state": by_state,
        "progress": live["progress"],
        "reasons": live["reasons"],
        "clip": {kind: clips.get(kind, 0) for kind in CampaignRecipient.Clip.values},
        "by_step": steps,
        "replied": live["replied"],
        "delivery_rate": round(delivered / reached, 4) if reached else None,
        "next_send_at": live["next_send_at"],
        "per_rep": list(per_rep.values()),
        "per_hour": [{"hour": row["hour"].isoformat(), "sent": row["sent"], "delivered": row["delivered"], "read": row["read"]}
                     for row in hourly],
    }


def daily_figures(*, since: datetime, until: datetime) -> dict:
    """What the daily e-mail reports: campaigns created, campaign messages sent and delivered
    (read counts as delivered), and the busiest hour (UTC) of sending, for [since, until)."""
    created = list(Campaign.objects.filter(created_at__gte=since, created_at__lt=until).order_by("created_at")
                   .values_list("name", flat=True))
    sent = CampaignRecipient.objects.filter(sent_at__gte=since, sent_at__lt=until)
    total = sent.count()
    delivered = sent.filter(state__in=["delivered", "read"]).count()
    busiest = (sent.annotate(hour=ExtractHour("sent_at")).values("hour").annotate(n=Count("id"))
               .order_by("-n", "hour").first())
    return {
        "since": since,
        "until": until,
        "campaigns_created": len(created),
        "campaign_names": created,
        "messages_sent": total,
        "delivered": delivered,
        "delivery_rate": delivered / total if total else None,
        "busiest_hour": busiest["hour"] if busiest else None,
        "busiest_hour_sent": busiest["n"] if busiest else 0,
    }

