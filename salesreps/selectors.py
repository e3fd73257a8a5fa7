"""Reads about reps: who a user is and may manage, schedules, capacity, warm-up and today's figures."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from salesreps import rules
from salesreps.models import (
    ActivityRecord,
    Channel,
    DailyAllowance,
    SalesRep,
    SalesRepChannel,
    SalesRepChannelActivity,
    ShiftError,
    TimeOff,
    WeeklyWindow,
    WorkingShift,
)


def rep_of(user) -> SalesRep | None:
    """The signed-in user's rep (reps and managers have one; an admin may not)."""
    if not user or not user.is_authenticated:
        return None
    try:
        return user.salesrep
    except SalesRep.DoesNotExist:
        return None


def managed_team_ids(user) -> frozenset[int] | None:
    """The team boundary, decided here only: the teams whose shared work — contacts, unassigned
    conversations, campaigns, reps — the user manages. None for an admin (every team); a manager's
    team; nothing for a rep, a manager without a team, an inactive user or one without a role.
    Every scope (inbox.selectors, campaigns.selectors, the dashboard, socket groups, event
    audiences through team_watchers) starts from it, so a company level above teams is a change
    here: a company admin would answer the company's teams."""
    if not user or not user.is_authenticated or not user.is_active:
        return frozenset()
    if user.is_superuser:
        return None
    rep = rep_of(user)
    if rep is None or not rep.is_manager or rep.team_id is None:
        return frozenset()
    return frozenset({rep.team_id})


def team_watchers(team_ids) -> tuple[set[int], dict[int, set[int]]]:
    """The other side of managed_team_ids, in one query: (every active admin's user id, each team's
    managing users' ids) — who is told of a team's work."""
    team_ids = {t for t in team_ids if t is not None}
    rows = get_user_model().objects.filter(
        Q(is_superuser=True) | Q(salesrep__role=SalesRep.Role.MANAGER, salesrep__team_id__in=team_ids), is_active=True,
    ).values_list("id", "is_superuser", "salesrep__team_id")
    admins, managers = set(), defaultdict(set)
    for user_id, is_admin, team_id in rows:
        if is_admin:
            admins.add(user_id)
        elif team_id in team_ids:
            managers[team_id].add(user_id)
    return admins, dict(managers)


def is_manager_or_admin(user) -> bool:
    """Admins and managers may manage (write templates, merge contacts); reps may not. What a
    manager may reach is managed_team_ids' answer: without a team, only their own work."""
    if not user or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    rep = rep_of(user)
    return bool(rep and rep.is_manager)


def manages_a_team(user) -> bool:
    """Admins and managers of a team: who runs campaigns and reads the dashboard."""
    return managed_team_ids(user) != frozenset()


def manager_user_ids(rep: SalesRep) -> list[int]:
    """The active managers of the rep's team and every admin: who watches this rep."""
    admins, managers = team_watchers([rep.team_id])
    return sorted(admins | managers.get(rep.team_id, set()))


def reps_for(user) -> QuerySet[SalesRep]:
    """Admins see every rep, a manager their team (or only themselves without one), a rep themselves."""
    teams = managed_team_ids(user)
    if teams is None:
        return SalesRep.objects.all()
    rep = rep_of(user) if user and user.is_active else None
    if rep is None:
        return SalesRep.objects.none()
    return SalesRep.objects.filter(Q(pk=rep.pk) | Q(team_id__in=teams))


def can_manage(user, rep: SalesRep) -> bool:
    """Who may change a rep's channels and shifts: admins, and the managers of the rep's team."""
    teams = managed_team_ids(user)
    return teams is None or rep.team_id in teams


# --- Schedules and capacity ------------------------------------------------------------

SHIFT_HORIZON_DAYS = 400


@dataclass
class ScheduleRows:
    """What a rep's rows say about their schedule: weekly windows by activity scope ("" = every
    activity) as (weekday, window); planned days off (every date) and planned dated shifts (the
    loaded dates); time off ranges overlapping the loaded dates; the team's holiday calendar."""

    week: dict[str, list[tuple[int, rules.Window]]] = dataclass_field(default_factory=dict)
    days_off: set[date] = dataclass_field(default_factory=set)
    overrides: dict[date, list[rules.Window]] = dataclass_field(default_factory=lambda: defaultdict(list))
    time_off: list[tuple[date, date, str]] = dataclass_field(default_factory=list)
    country: str = ""


def schedule_rows(rep_ids, first: date, last: date) -> dict[int, ScheduleRows]:
    """The schedule rows of these reps, in four queries whatever their number: planned shifts,
    weekly windows, time off, team holiday calendars. Shifts the dispatcher materialized
    (planned=False) are records of a day worked, not part of the schedule."""
    rep_ids = set(rep_ids)
    out: dict[int, ScheduleRows] = defaultdict(ScheduleRows)
    for rep_id, day, start, end, is_day_off in _shift_rows(WorkingShift.objects.filter(rep_id__in=rep_ids), first, last):
        if is_day_off:
            out[rep_id].days_off.add(day)
        elif start != end:  # every shift of the date (several = a split shift)
            out[rep_id].overrides[day].append(rules.Window(start, end))
    for rep_id, weekday, start, end, activity in (WeeklyWindow.objects.filter(rep_id__in=rep_ids)
                                                  .order_by("weekday", "start_time", "id")
                                                  .values_list("rep_id", "weekday", "start_time", "end_time", "activity")):
        out[rep_id].week.setdefault(activity, []).append((weekday, rules.Window(start, end)))
    for rep_id, first_day, last_day, reason in (TimeOff.objects.filter(rep_id__in=rep_ids, last_day__gte=first, first_day__lte=last)
                                                .values_list("rep_id", "first_day", "last_day", "reason")):
        out[rep_id].time_off.append((first_day, last_day, reason))
    for rep_id, country in (SalesRep.objects.filter(pk__in=rep_ids, team__holiday_country__gt="")
                            .values_list("id", "team__holiday_country")):
        out[rep_id].country = country
    return out


def schedule_for(rep_channel: SalesRepChannel, activity: SalesRepChannelActivity | None, *,
                 around: datetime | None = None) -> rules.Schedule:
    """The rep-channel-activity's working schedule (see build_schedule), in the rep-channel's zone.
    Dated rows are loaded only for the local dates from 2 days before `around` (default now) to
    SHIFT_HORIZON_DAYS after, which is as far as the rules look ahead (next_opening's horizon)."""
    around = around or timezone.now()
    today = around.astimezone(ZoneInfo(rep_channel.zone)).date()
    rows = schedule_rows({rep_channel.rep_id}, today - timedelta(days=2), today + timedelta(days=SHIFT_HORIZON_DAYS))
    return _schedule(rep_channel, activity, rows[rep_channel.rep_id], around, _activity_names([activity]).get(getattr(activity, "id", None), ""))


def _activity_hours(activity: SalesRepChannelActivity | None) -> rules.Window | None:
    if activity is not None and activity.start_time is not None and activity.end_time is not None:
        return rules.Window(activity.start_time, activity.end_time)
    return None


def _activity_names(activities) -> dict[int, str]:
    """Activity names by rep-channel-activity id, one query for those whose activity is not joined."""
    activities = [a for a in activities if a is not None]
    names = {a.id: a.activity.name for a in activities if SalesRepChannelActivity.activity.is_cached(a)}
    missing = [a.id for a in activities if a.id not in names]
    if missing:
        names.update(SalesRepChannelActivity.objects.filter(pk__in=missing).values_list("id", "activity__name"))
    return names


def _shift_rows(shifts: QuerySet, first: date, last: date) -> QuerySet:
    wanted = Q(is_day_off=True) | Q(is_day_off=False, date__gte=first, date__lte=last, start_time__isnull=False, end_time__isnull=False)
    return (shifts.filter(wanted, planned=True).order_by("date", "number")
            .values_list("rep_id", "date", "start_time", "end_time", "is_day_off"))


def build_schedule(*, tz: str, rows: ScheduleRows, around: datetime, daily: rules.Window | None = None,
                   activity: str = "", activity_hours: rules.Window | None = None) -> rules.Schedule:
    """The schedule of one activity from the rep's rows, per date: a planned day off, time off or a
    team holiday → nothing; a planned dated shift → its windows (an extra shift, a shorter day);
    else the weekday's weekly windows (the activity's own rows if it has any, else those of every
    activity); a rep without weekly windows keeps `daily` (the rep-channel's hours) every day.
    An activity with its own hours works them inside the rep's shifts (weekly or dated); without
    a week they replace the rep-channel's hours. Time off and holidays are expanded for
    the rules' horizon only."""
    today = around.astimezone(ZoneInfo(tz)).date()
    first, last = today - timedelta(days=2), today + timedelta(days=SHIFT_HORIZON_DAYS)
    days_off = set(rows.days_off) | rules.days_in_ranges([(a, b) for a, b, _ in rows.time_off], first=first, last=last)
    if rows.country:
        days_off |= set(rules.public_holidays(country=rows.country, first=first, last=last))
    overrides = {day: tuple(windows) for day, windows in rows.overrides.items() if first <= day <= last}
    week = None
    if rows.week:
        scoped = rows.week[activity] if activity in rows.week else rows.week.get("", [])
        week = tuple(tuple(w for d, w in scoped if d == weekday) for weekday in range(7))
        daily = None
    narrow = ()
    if activity_hours is not None:
        narrow = (activity_hours,)  # inside the rep's shifts, weekly or dated (DESIGN: the activity's hours narrow them)
        if week is None:
            daily = activity_hours  # no week: the activity's hours replace the rep-channel's (DESIGN: working window)
    return rules.Schedule(tz=tz, windows=(daily,) if daily is not None else (), days_off=frozenset(days_off),
                          overrides=overrides, week=week, narrow=narrow)


def _schedule(rep_channel: SalesRepChannel, activity: SalesRepChannelActivity | None, rows: ScheduleRows,
              around: datetime, activity_name: str) -> rules.Schedule:
    """The rep-channel-activity's schedule from its rep's rows (which may cover more dates than
    this rep-channel's horizon: those are left out)."""
    return build_schedule(tz=rep_channel.zone, rows=rows, around=around,
                          daily=rules.Window(rep_channel.start_time, rep_channel.end_time),
                          activity=activity_name, activity_hours=_activity_hours(activity))


def max_capacity(rep_channel: SalesRepChannel, activity: SalesRepChannelActivity | None) -> int:
    if activity is not None and activity.max_capacity is not None:
        return activity.max_capacity
    return rep_channel.max_daily_capacity


def allowance_owner(activity: SalesRepChannelActivity | None) -> SalesRepChannelActivity | None:
    # An activity with its own max ramps on its own; the others share the rep-channel's ramp.
    return activity if activity is not None and activity.max_capacity is not None else None


def allowances_on(
    rep_channel: SalesRepChannel, activity: SalesRepChannelActivity | None, days: list[date]
) -> dict[date, tuple[int, bool]]:
    """Per day (ascending): (allowance, stored?) — the stored row's value, else what that day
    would get if every listed day before it became active (the warm-up ramp projected forward)."""
    if not days:
        return {}
    rows = DailyAllowance.objects.filter(rep_channel=rep_channel, rep_channel_activity=allowance_owner(activity))
    stored = dict(rows.filter(day__gte=days[0], day__lte=days[-1]).values_list("day", "allowance"))
    previous = rows.filter(day__lt=days[0]).order_by("-day").values_list("allowance", flat=True).first()
    cap, out = max_capacity(rep_channel, activity), {}
    for day in days:
        if day in stored:
            out[day] = (stored[day], True)
        else:
            out[day] = (rules.next_allowance(previous=previous, max_capacity=cap, warmup_start=rep_channel.warmup_start,
                                             warmup_step=rep_channel.warmup_step), False)
        previous = out[day][0]
    return out


def allowance_lookup(
    rep_channel: SalesRepChannel, activity: SalesRepChannelActivity | None, day: date
) -> tuple[int, bool]:
    """(allowance, stored?): the stored row's value, else what the next active day would get."""
    return allowances_on(rep_channel, activity, [day])[day]


def message_activity(rep_channel: SalesRepChannel) -> SalesRepChannelActivity | None:
    """The rep-channel's "message" activity, if one was configured or recorded against yet."""
    return (SalesRepChannelActivity.objects.filter(rep_channel=rep_channel, activity__name="message")
            .select_related("activity").first())


def used_on(*, activity: SalesRepChannelActivity, day: date, exclude_message_id: int | None = None) -> int:
    """The day's ledger rows of the activity; a claim re-checking a message it reserved earlier
    leaves that message's own row out, so every rule runs again without counting it twice."""
    records = ActivityRecord.objects.filter(rep_channel_activity=activity, shift_day=day)
    return (records.exclude(message_id=exclude_message_id) if exclude_message_id else records).count()


def capacity_of(*, rep_channel: SalesRepChannel, activity: SalesRepChannelActivity | None, at: datetime,
                exclude_message_id: int | None = None) -> rules.Capacity:
    """Everything the capacity check needs, read now (the rep joined: rep_channel.rep)."""
    schedule = schedule_for(rep_channel, activity, around=at)
    day = rules.shift_day(schedule=schedule, at=at)
    allowance, stored = allowance_lookup(rep_channel, activity, day)
    return rules.Capacity(
        schedule=schedule,
        available=rules.is_available(rep_available=rep_channel.rep.is_available, channel_available=rep_channel.is_available),
        max_capacity=max_capacity(rep_channel, activity), day=day, allowance=allowance, allowance_stored=stored,
        used=used_on(activity=activity, day=day, exclude_message_id=exclude_message_id) if activity is not None else 0,
    )


def capacities_of(pairs: list[tuple[SalesRepChannel, SalesRepChannelActivity | None]], *, at: datetime) -> dict[int, rules.Capacity]:
    """capacity_of for many rep-channels (their rep joined) in a fixed number of queries, keyed by
    rep-channel id: the schedule rows (schedule_rows), activity names not joined, allowances, the
    day's ledger counts. A batch dispatcher decides all its messages from these and counts its own
    sends in memory."""
    if not pairs:
        return {}
    utc_today = at.astimezone(ZoneInfo("UTC")).date()  # every zone's local date is within a day of it
    rows = schedule_rows({rc.rep_id for rc, _ in pairs}, utc_today - timedelta(days=3),
                         utc_today + timedelta(days=SHIFT_HORIZON_DAYS + 1))
    names = _activity_names([activity for _, activity in pairs])
    schedules = {rc.id: _schedule(rc, activity, rows[rc.rep_id], at, names.get(getattr(activity, "id", None), ""))
                 for rc, activity in pairs}
    days = {rc.id: rules.shift_day(schedule=schedules[rc.id], at=at) for rc, _ in pairs}
    allowances = _allowances_on_days([(rc, activity, days[rc.id]) for rc, activity in pairs])
    activities = {activity.id: rc.id for rc, activity in pairs if activity is not None}
    used = defaultdict(int)
    for activity_id, day, count in (ActivityRecord.objects.filter(rep_channel_activity_id__in=activities,
                                                                   shift_day__in=set(days.values()))
                                    .values("rep_channel_activity_id", "shift_day").annotate(n=Count("id"))
                                    .values_list("rep_channel_activity_id", "shift_day", "n")):
        if days[activities[activity_id]] == day:
            used[activity_id] = count
    return {rc.id: rules.Capacity(
        schedule=schedules[rc.id],
        available=rules.is_available(rep_available=rc.rep.is_available, channel_available=rc.is_available),
        max_capacity=max_capacity(rc, activity), day=days[rc.id], allowance=allowances[rc.id][0],
        allowance_stored=allowances[rc.id][1], used=used[activity.id] if activity is not None else 0,
    ) for rc, activity in pairs}


def _allowances_on_days(items: list[tuple[SalesRepChannel, SalesRepChannelActivity | None, date]]) -> dict[int, tuple[int, bool]]:
    """allowance_lookup for many rep-channels, each on its own day, in one query: per rep-channel
    the stored row of that day and the last one before it (window function, two rows each)."""
    owners = {rc.id: (allowance_owner(activity).id if allowance_owner(activity) else None) for rc, activity, _ in items}
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT rep_channel_id, day, allowance FROM (
                   SELECT a.rep_channel_id, a.day, a.allowance,
                          row_number() OVER (PARTITION BY a.rep_channel_id ORDER BY a.day DESC) AS rank
                   FROM salesreps_dailyallowance a
                   JOIN unnest(%s::bigint[], %s::bigint[], %s::date[]) AS w(rep_channel_id, owner_id, day)
                     ON a.rep_channel_id = w.rep_channel_id AND a.day <= w.day
                    AND a.rep_channel_activity_id IS NOT DISTINCT FROM w.owner_id
               ) ranked WHERE rank <= 2 ORDER BY rep_channel_id, day DESC""",
            [[rc.id for rc, _, _ in items], [owners[rc.id] for rc, _, _ in items], [day for _, _, day in items]],
        )
        found = defaultdict(list)
        for rep_channel_id, day, allowance in cursor.fetchall():
            found[rep_channel_id].append((day, allowance))
    out = {}
    for rc, activity, day in items:
        stored = found[rc.id]
        if stored and stored[0][0] == day:
            out[rc.id] = (stored[0][1], True)
            continue
        previous = stored[0][1] if stored else None
        out[rc.id] = (rules.next_allowance(previous=previous, max_capacity=max_capacity(rc, activity),
                                           warmup_start=rc.warmup_start, warmup_step=rc.warmup_step), False)
    return out


RATE_SPANS = (("channel_hourly", "rate_limit_per_hour", timedelta(hours=1)), ("channel_daily", "rate_limit_per_day", timedelta(days=1)))


def channel_usages(channels: list[Channel], *, at: datetime) -> dict[int, dict[str, dict]]:
    """channel_usage of many channels in one query (frees_at is read only for a limit reached)."""
    limited = [c for c in channels if c.rate_limit_per_hour is not None or c.rate_limit_per_day is not None]
    if not limited:
        return {c.id: {} for c in channels}
    counts = {row["channel"]: row for row in (
        ActivityRecord.objects.filter(rep_channel_activity__rep_channel__channel_id__in=[c.id for c in limited],
                                      performed_at__gt=at - timedelta(days=1))
        .values(channel=F("rep_channel_activity__rep_channel__channel_id"))
        .annotate(channel_hourly=Count("id", filter=Q(performed_at__gt=at - timedelta(hours=1))), channel_daily=Count("id")))}
    out = {c.id: {} for c in channels}
    for channel in limited:
        for name, field, _span in RATE_SPANS:
            limit = getattr(channel, field)
            if limit is not None:
                used = counts.get(channel.id, {}).get(name, 0)
                out[channel.id][name] = {"limit": limit, "used": used, "frees_at": None}
        if any(u["used"] >= u["limit"] for u in out[channel.id].values()):
            out[channel.id] = channel_usage(channel=channel, at=at)
    return out


def rate_frees_at(*, channel: Channel, code: str, at: datetime, limit: int, used: int, pending: int) -> datetime:
    """When the channel's limit frees a slot, `pending` sends of this instant not yet stored."""
    span = dict((name, span) for name, _field, span in RATE_SPANS)[code]
    times = list(ActivityRecord.objects.filter(rep_channel_activity__rep_channel__channel=channel, performed_at__gt=at - span)
                 .order_by("performed_at").values_list("performed_at", flat=True)) + [at] * pending
    return times[min(len(times) - 1, max(0, used - limit))] + span


def _windows_shown(schedule: rules.Schedule, day: date) -> list[dict]:
    return [{"start": w.start, "end": w.end, "crosses_midnight": w.crosses_midnight} for w in rules.open_windows(schedule=schedule, day=day)]


def _day_today(schedule: rules.Schedule, at: datetime, why_off) -> dict:
    day = rules.shift_day(schedule=schedule, at=at)
    open_now = rules.is_open(schedule=schedule, at=at)
    opening = rules.next_opening(schedule=schedule, at=at)
    off = why_off(day) if day in schedule.days_off else None
    return {
        "date": day, "weekday": day.strftime("%A"), "timezone": schedule.tz,
        "windows": _windows_shown(schedule, day),
        "day_off": day in schedule.days_off, "off_reason": off, "open_now": open_now,
        "window_closes": rules.current_window_end(schedule=schedule, at=at) if open_now else None,
        "next_opening": opening, "next_opening_local": rules.local_label(opening, schedule.tz) if opening else None,
    }


def _why_off(rows: ScheduleRows, tz: str, at: datetime):
    """day → why the rep does not work it (a planned day off, time off, a public holiday), or None."""
    today = at.astimezone(ZoneInfo(tz)).date()
    holidays = rules.public_holidays(country=rows.country, first=today - timedelta(days=2),
                                     last=today + timedelta(days=2)) if rows.country else {}

    def why(day: date) -> str | None:
        if day in rows.days_off:
            return "day off"
        for first, last, reason in rows.time_off:
            if first <= day <= last:
                return f"time off: {reason}" if reason else "time off"
        if day in holidays:
            return f"public holiday ({rows.country}): {holidays[day]}"
        return None

    return why


def rep_schedule(*, rep: SalesRep, at: datetime | None = None) -> dict:
    """The rep's weekly schedule as one document (timezone, week, time off, the team's holiday
    calendar) and what it means now: the shift day's windows, open now, the next opening — for the
    rep's own zone and for each of their channels (its zone, its hours when the rep has no week)."""
    at = at or timezone.now()
    rep = SalesRep.objects.select_related("team").get(pk=rep.pk)
    utc_today = at.astimezone(ZoneInfo("UTC")).date()
    rows = schedule_rows({rep.id}, utc_today - timedelta(days=3), utc_today + timedelta(days=SHIFT_HORIZON_DAYS + 1))[rep.id]
    own = build_schedule(tz=rep.timezone, rows=rows, around=at)
    channels = []
    for rep_channel in SalesRepChannel.objects.filter(rep=rep).select_related("channel").order_by("channel__name", "id"):
        rep_channel.rep = rep
        schedule = _schedule(rep_channel, None, rows, at, "")
        channels.append({"rep_channel_id": rep_channel.id, "channel": rep_channel.channel.name,
                         **_day_today(schedule, at, _why_off(rows, schedule.tz, at))})
    return {
        "rep_id": rep.id,
        "timezone": rep.timezone,
        "week": [{"weekday": w.weekday, "start": w.start_time, "end": w.end_time, "activity": w.activity}
                 for w in rep.weekly_windows.order_by("weekday", "activity", "start_time", "id")],
        "time_off": [{"first_day": t.first_day, "last_day": t.last_day, "reason": t.reason}
                     for t in rep.time_off.order_by("first_day", "last_day", "id")],
        "holiday_country": rep.team.holiday_country if rep.team else "",
        "today": {"at": at, "weekly": bool(rows.week), **_day_today(own, at, _why_off(rows, rep.timezone, at)),
                  "channels": channels},
    }


def capacity_warnings(*, rep_channel: SalesRepChannel, at: datetime | None = None) -> list[str]:
    """Caps at or below what the ledger already holds for today: the capacity check refuses every
    further activity of that kind today; said when a manager lowers one."""
    at = at or timezone.now()
    out = []
    for activity in rep_channel.activities.select_related("activity").order_by("activity__name"):
        cap = max_capacity(rep_channel, activity)
        day = rules.shift_day(schedule=schedule_for(rep_channel, activity, around=at), at=at)
        used = used_on(activity=activity, day=day)
        if used == 0 or cap > used:
            continue
        name = activity.activity.name
        what = "sends" if name == "message" else name
        field_name = "max_daily_capacity" if activity.max_capacity is None else f"{name} max_capacity"
        of = "" if name == "message" or activity.max_capacity is not None else f" of {name}"
        relation = "is below" if cap < used else "equals"
        out.append(f"{field_name} {cap} {relation} today's use {used}{of}: no more {what} today")
    return out


# --- Today ----------------------------------------------------------------------------

def channel_usage(*, channel: Channel, at: datetime, exclude_message_id: int | None = None) -> dict[str, dict]:
    """The channel's rate limits against its ledger (every rep, every activity), over the rolling
    hour and day ending at `at`: {"channel_hourly": {limit, used, frees_at}, "channel_daily": …}."""
    out = {}
    # No upper bound at `at`: a reservation another worker made while this one waited for the
    # channel's lock is later than this worker's `at` and still counts.
    records = ActivityRecord.objects.filter(rep_channel_activity__rep_channel__channel=channel)
    if exclude_message_id:  # a claim re-checking a message it reserved earlier: not counted twice
        records = records.exclude(message_id=exclude_message_id)
    for name, limit, span in (("channel_hourly", channel.rate_limit_per_hour, timedelta(hours=1)),
                              ("channel_daily", channel.rate_limit_per_day, timedelta(days=1))):
        if limit is None:
            continue
        recent = records.filter(performed_at__gt=at - span)
        used = recent.count()
        frees_at = None
        if used >= limit:
            # The slot that frees first is the one taken `used - limit` places after the oldest.
            oldest = recent.order_by("performed_at").values_list("performed_at", flat=True)[used - limit]
            frees_at = oldest + span
        out[name] = {"limit": limit, "used": used, "frees_at": frees_at}
    return out


def _activity_today(rep: SalesRep, rep_channel: SalesRepChannel, activity: SalesRepChannelActivity,
                    at: datetime, usage: dict[str, dict]) -> dict:
    schedule = schedule_for(rep_channel, activity, around=at)
    open_now = rules.is_open(schedule=schedule, at=at)
    day = rules.shift_day(schedule=schedule, at=at)
    cap = max_capacity(rep_channel, activity)
    allowance, stored = allowance_lookup(rep_channel, activity, day)
    allowance = min(allowance, cap)
    used = used_on(activity=activity, day=day) if activity.pk is not None else 0  # no row yet: nothing recorded
    limits = {"activity_cap": cap - used, "warmup": allowance - used,
              **{name: u["limit"] - u["used"] for name, u in usage.items()}}
    binding, left = rules.binding_limit(limits=limits)
    available = rules.is_available(rep_available=rep.is_available, channel_available=rep_channel.is_available)

    if not available:
        blocked_by, next_open = "unavailable", None
    elif cap == 0:
        blocked_by, next_open = "activity_off", None
    elif left <= 0 and binding in usage:
        blocked_by = binding
        next_open = rules.next_opening(schedule=schedule, at=max(at, usage[binding]["frees_at"]))
    elif left <= 0:
        blocked_by = binding
        end = rules.current_window_end(schedule=schedule, at=at) or at
        next_open = rules.after_shift_day(schedule=schedule, day=day, end=end)
    elif not open_now:
        blocked_by, next_open = "outside_shift", rules.next_opening(schedule=schedule, at=at)
    else:
        blocked_by, next_open = None, at
    return {
        "rep_channel_activity_id": activity.id,
        "activity": activity.activity.name,
        "shift_day": day,
        "windows": _windows_shown(schedule, day),
        "day_off": day in schedule.days_off,
        "open_now": open_now,
        "window_closes": rules.current_window_end(schedule=schedule, at=at) if open_now else None,
        "next_opening": next_open,
        "max_capacity": cap,
        "allowance": allowance,
        "allowance_stored": stored,
        "used": used,
        "remaining": max(0, left),
        "binding_limit": binding,
        "blocked_by": blocked_by,
    }


def _offered_activities(rep_channel: SalesRepChannel) -> list[SalesRepChannelActivity]:
    """Every activity the rep-channel's channel offers, by name: its own row where one exists, else
    an unsaved one (the rep-channel's window and cap; its row is made by the first request)."""
    rows = {a.activity_id: a for a in rep_channel.activities.all()}
    for offered in rep_channel.channel.activities.all():
        rows.setdefault(offered.id, SalesRepChannelActivity(rep_channel=rep_channel, activity=offered))
    return sorted(rows.values(), key=lambda a: a.activity.name)


def rep_today(*, rep: SalesRep, at: datetime | None = None) -> dict:
    """Per channel and every activity it offers (message, like, comment…), what the rep may do
    today: allowance, used, remaining, window, next opening and the limit that binds. Reads only:
    the day's allowance row is stored by the first activity actually recorded, so looking never
    advances the warm-up."""
    at = at or timezone.now()
    rep = SalesRep.objects.get(pk=rep.pk)
    rep_channels = (SalesRepChannel.objects.filter(rep=rep).select_related("channel", "rep")
                    .prefetch_related("activities__activity", "channel__activities").order_by("channel__name", "id"))
    channels = []
    for rep_channel in rep_channels:
        usage = channel_usage(channel=rep_channel.channel, at=at)
        activities = _offered_activities(rep_channel)
        channels.append({
            "rep_channel_id": rep_channel.id,
            "channel_id": rep_channel.channel_id,
            "channel": rep_channel.channel.name,
            "available": rules.is_available(rep_available=rep.is_available, channel_available=rep_channel.is_available),
            "sandbox": rep_channel.sandbox,
            "timezone": rep_channel.zone,
            "channel_limits": usage,
            "activities": [_activity_today(rep, rep_channel, a, at, usage) for a in activities],
        })
    days = sorted({a["shift_day"] for c in channels for a in c["activities"]} or {at.date()})
    return {"rep_id": rep.id, "at": at, "available": rep.is_available, "channels": channels,
            "shifts": day_shifts(rep=rep, days=days), "errors": day_errors(rep=rep, days=days)}


def day_shifts(*, rep: SalesRep, days: list[date]) -> list[dict]:
    """The rep's working shifts of these days with what was performed in each, per activity."""
    shifts = list(WorkingShift.objects.filter(rep=rep, date__in=days).order_by("date", "number"))
    counts = defaultdict(dict)
    for shift_id, name, n in (ActivityRecord.objects.filter(shift__in=shifts).values("shift_id", "rep_channel_activity__activity__name")
                              .annotate(n=Count("id")).values_list("shift_id", "rep_channel_activity__activity__name", "n")):
        counts[shift_id][name] = n
    return [{"id": s.id, "date": s.date, "number": s.number, "start_time": s.start_time, "end_time": s.end_time,
             "is_day_off": s.is_day_off, "planned": s.planned, "note": s.note, "records": counts[s.id]} for s in shifts]


def day_errors(*, rep: SalesRep, days: list[date]) -> list[dict]:
    """What went wrong in the rep's shift days, worst and latest first."""
    rows = ShiftError.objects.filter(Q(rep=rep) | Q(rep_channel__rep=rep), day__in=days).order_by("-level", "-last_at", "-id")
    return [{"id": e.id, "day": e.day, "rep_channel_id": e.rep_channel_id, "shift_id": e.shift_id, "code": e.code,
             "level": e.level, "message": e.message, "count": e.count, "last_at": e.last_at} for e in rows]
