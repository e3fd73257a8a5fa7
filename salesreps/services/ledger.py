"""The capacity ledger: checking and recording activities, warm-up allowances, shift errors."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from core.copy import copy_insert
from core.logs import entity_log
from salesreps import rules
from salesreps.models import ActivityRecord, DailyAllowance, SalesRepChannel, SalesRepChannelActivity, ShiftError, WorkingShift
from salesreps.selectors import allowance_lookup, allowance_owner, capacity_of, schedule_for

log = entity_log("reps")


class CapacityRefused(Exception):
    """The activity may not be performed now; `code` and `reason` say which limit binds."""

    def __init__(self, code: str, reason: str, until: datetime | None = None):
        super().__init__(reason)
        self.code, self.reason, self.until = code, reason, until


def allowance_store(*, rep_channel: SalesRepChannel, activity: SalesRepChannelActivity | None, day: date, allowance: int) -> int:
    """Store the day's warm-up allowance (once); returns the stored value. Caller holds the
    rep-channel row lock; a racer without it may have stored the day first, and then the
    stored value is the truth."""
    row, _ = DailyAllowance.objects.get_or_create(
        rep_channel=rep_channel, rep_channel_activity=allowance_owner(activity), day=day,
        defaults={"allowance": allowance},
    )
    return row.allowance


def allowances_store(rows: list[tuple[int, int | None, date, int]]) -> None:
    """allowance_store for many (rep-channel id, allowance owner id, day, allowance) in one COPY.
    Caller holds those rep-channels' row locks and read that none is stored yet."""
    copy_insert(DailyAllowance, ["rep_channel_id", "rep_channel_activity_id", "day", "allowance"], rows)


def allowance_for(*, rep_channel: SalesRepChannel, activity: SalesRepChannelActivity | None, day: date) -> int:
    """Today's warm-up allowance, stored per active day so it survives restarts and can be shown.
    Caller holds the rep-channel row lock when it may create the row."""
    allowance, stored = allowance_lookup(rep_channel, activity, day)
    if stored:
        return allowance
    return allowance_store(rep_channel=rep_channel, activity=activity, day=day, allowance=allowance)


def activity_check(*, rep_channel: SalesRepChannel, activity: SalesRepChannelActivity, at: datetime) -> tuple[date, int]:
    """(shift day, remaining) if the activity may happen at `at`; raises CapacityRefused otherwise.
    A day an activity is allowed on becomes an active warm-up day (its allowance is stored); a
    refused one does not. Caller holds the rep-channel row lock and records the activity."""
    capacity = capacity_of(rep_channel=rep_channel, activity=activity, at=at)
    refusal = rules.capacity_refusal(capacity=capacity, at=at)
    if refusal:
        raise CapacityRefused(refusal.code, refusal.reason, refusal.until)
    if not capacity.allowance_stored:  # the activity will happen: the day becomes an active warm-up day
        stored = allowance_store(rep_channel=rep_channel, activity=activity, day=capacity.day, allowance=capacity.allowance)
        capacity = replace(capacity, allowance=stored, allowance_stored=True)
    return capacity.day, rules.remaining(allowance=min(capacity.allowance, capacity.max_capacity), used=capacity.used)


@transaction.atomic
def activity_record(*, rep_channel_activity_id: int, at: datetime | None = None, message_id: int | None = None) -> ActivityRecord:
    """Record one activity if window and capacity allow: the rep-channel row lock serialises racers,
    so the cap is never exceeded however many workers try at once."""
    at = at or timezone.now()
    activity = SalesRepChannelActivity.objects.select_related("activity").get(pk=rep_channel_activity_id)
    # Lock the rep-channel row only (of=self): the joined rep row stays free for availability toggles.
    rep_channel = SalesRepChannel.objects.select_for_update(of=("self",)).select_related("rep").get(pk=activity.rep_channel_id)
    activity_check(rep_channel=rep_channel, activity=activity, at=at)
    record = activity_record_unchecked(rep_channel=rep_channel, activity=activity, at=at, message_id=message_id)
    day = record.shift_day
    log.info("activity recorded", rep=rep_channel.rep_id, rep_channel=rep_channel.id, activity=activity.activity.name,
             shift_day=day, message=message_id)
    return record


def shift_error_record(*, message: str, code: str, level: int, shift: WorkingShift | None = None,
                       rep_channel: SalesRepChannel | None = None) -> ShiftError:
    """One error kept as it is (an operator's note on a shift); the flows count theirs with
    shift_errors_record."""
    if level not in (0, 1, 2):
        raise ValueError("level must be 0 (info), 1 (warning) or 2 (error)")
    rep = shift.rep if shift else rep_channel.rep if rep_channel else None
    error = ShiftError.objects.create(shift=shift, rep=rep, rep_channel=rep_channel, message=message, code=code, level=level,
                                      day=None, last_at=timezone.now())
    log.warning("shift error", rep_channel=rep_channel.id if rep_channel else None, code=code, level=level)
    return error


@dataclass(frozen=True)
class ShiftIssue:
    """Something a flow met during a rep-channel's shift day: a send refused because the shift
    closed, a capacity reached, a channel service that failed, the rep unavailable in their shift."""

    rep_id: int
    rep_channel_id: int
    day: date
    code: str
    level: int  # ShiftError.Level
    message: str
    at: datetime


def shift_errors_record(issues: list[ShiftIssue]) -> None:
    """Count the issues in one statement: one row per rep-channel, shift day and code, whose count
    grows and whose message is the latest; it hangs on the day's first shift when one exists."""
    if not issues:
        return
    merged: dict[tuple[int, date, str], tuple[ShiftIssue, int]] = {}
    for issue in issues:
        key = (issue.rep_channel_id, issue.day, issue.code)
        merged[key] = (issue, merged.get(key, (issue, 0))[1] + 1)
    rows = [(i.rep_id, i.rep_channel_id, i.day, i.code, i.level, i.message[:2000], n, i.at) for i, n in merged.values()]
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO salesreps_shifterror (rep_id, rep_channel_id, day, code, level, message, count, created_at, last_at, shift_id)
               SELECT r.rep_id, r.rep_channel_id, r.day, r.code, r.level, r.message, r.n, r.at, r.at,
                      (SELECT s.id FROM salesreps_workingshift s WHERE s.rep_id = r.rep_id AND s.date = r.day
                       AND NOT s.is_day_off ORDER BY s.number LIMIT 1)
               FROM unnest(%s::bigint[], %s::bigint[], %s::date[], %s::text[], %s::int[], %s::text[], %s::int[], %s::timestamptz[])
                    AS r(rep_id, rep_channel_id, day, code, level, message, n, at)
               ON CONFLICT (rep_channel_id, day, code) WHERE day IS NOT NULL DO UPDATE SET
                 count = salesreps_shifterror.count + EXCLUDED.count, message = EXCLUDED.message,
                 level = GREATEST(salesreps_shifterror.level, EXCLUDED.level), last_at = EXCLUDED.last_at,
                 shift_id = COALESCE(salesreps_shifterror.shift_id, EXCLUDED.shift_id)""",
            [list(col) for col in zip(*rows, strict=True)],
        )
    for i, n in merged.values():
        log.warning("shift error", rep=i.rep_id, rep_channel=i.rep_channel_id, shift_day=i.day, code=i.code, level=i.level, count=n)


def records_release(*, message_ids: list[int] = (), request_ids: list[int] = ()) -> None:
    """Free the capacity of activities that did not happen (a failed send): their ledger rows go,
    and a warm-up day left with no performed activity is not an active day any more."""
    records = ActivityRecord.objects.filter(Q(message_id__in=list(message_ids)) | Q(activity_request_id__in=list(request_ids)))
    days = set(records.values_list("rep_channel_activity__rep_channel_id", "rep_channel_activity_id",
                                   "rep_channel_activity__max_capacity", "shift_day"))
    if not days:
        return
    records.delete()
    for rep_channel_id, activity_id, own_max, day in days:
        owner = activity_id if own_max is not None else None  # allowance_owner: an own max ramps on its own
        left = ActivityRecord.objects.filter(shift_day=day, rep_channel_activity__rep_channel_id=rep_channel_id)
        left = left.filter(rep_channel_activity_id=activity_id) if owner else left.filter(rep_channel_activity__max_capacity__isnull=True)
        if not left.exists():
            DailyAllowance.objects.filter(rep_channel_id=rep_channel_id, rep_channel_activity_id=owner, day=day).delete()


def shifts_materialize(days: dict[tuple[int, date], tuple[rules.Window, ...]], *, at: datetime) -> dict[tuple[int, date], list[WorkingShift]]:
    """The working shifts of each (rep, shift day): the ones stored (planned by a manager, or
    materialized before), else the day's windows from the schedule stored now, numbered 1…n —
    the day's first activity creates them. Racers insert the same numbers; the unique
    constraint keeps one of each."""
    if not days:
        return {}
    out: dict[tuple[int, date], list[WorkingShift]] = defaultdict(list)
    wanted = Q(pk__in=[])
    for rep_id, day in days:
        wanted |= Q(rep_id=rep_id, date=day)
    for shift in WorkingShift.objects.filter(wanted).order_by("number"):
        out[(shift.rep_id, shift.date)].append(shift)
    missing = [key for key in days if not out[key]]
    if missing:
        new = []
        for rep_id, day in missing:
            windows = days[(rep_id, day)]
            new += [WorkingShift(rep_id=rep_id, date=day, number=n, start_time=w.start, end_time=w.end, planned=False,
                                 note="from the schedule") for n, w in enumerate(windows, start=1)]
            if not windows:  # performed outside any window (a sandbox test, an unchecked write)
                new.append(WorkingShift(rep_id=rep_id, date=day, number=1, planned=False, note="activity outside the schedule"))
        WorkingShift.objects.bulk_create(new, ignore_conflicts=True)
        again = Q(pk__in=[])
        for rep_id, day in missing:
            again |= Q(rep_id=rep_id, date=day)
        for shift in WorkingShift.objects.filter(again).order_by("number"):
            out[(shift.rep_id, shift.date)].append(shift)
        for rep_id, day in missing:
            log.info("shift started", rep=rep_id, shift_day=day, shifts=len(out[(rep_id, day)]), at=at)
    # A planned day off is stored but holds no work: nothing is recorded against it.
    return {key: [s for s in found if not s.is_day_off] for key, found in out.items()}


@dataclass(frozen=True)
class Performed:
    """One activity to write to the ledger: a message's or an activity request's reservation."""

    rep_channel: SalesRepChannel
    activity: SalesRepChannelActivity
    schedule: rules.Schedule
    at: datetime
    message_id: int | None = None
    activity_request_id: int | None = None


def activities_record_unchecked(items: list[Performed]) -> None:
    """Write ledger rows after the caller decided them under the rep-channels' locks, each against
    the day's shift whose hours contain it (split shifts), else the day's first shift; the day's
    shifts are materialized by its first activity. Three statements for any number of rows."""
    if not items:
        return
    days = [(item, rules.shift_day(schedule=item.schedule, at=item.at)) for item in items]
    wanted = {(item.rep_channel.rep_id, day): rules.windows_on(schedule=_shift_schedule(item), day=day) for item, day in reversed(days)}
    shifts = shifts_materialize(wanted, at=items[0].at)
    rows = [(item.activity.id, getattr(_shift_at(shifts[(item.rep_channel.rep_id, day)], item.schedule.tz, item.at), "id", None),
             day, item.at, item.message_id, item.activity_request_id) for item, day in days]
    copy_insert(ActivityRecord, ["rep_channel_activity_id", "shift_id", "shift_day", "performed_at", "message_id",
                                 "activity_request_id"], rows)


def _shift_schedule(item: Performed) -> rules.Schedule:
    """The shifts of a day are the rep's hours, not an activity's own narrower (or wider) ones."""
    if item.activity.start_time is None or item.activity.end_time is None:
        return item.schedule
    return schedule_for(item.rep_channel, None, around=item.at)


def _shift_at(shifts: list[WorkingShift], tz: str, at: datetime) -> WorkingShift | None:
    """The shift whose hours contain `at` (split shifts), else the day's first shift."""
    return next((s for s in shifts if s.start_time and s.end_time and s.start_time != s.end_time and rules.is_open(
        schedule=rules.Schedule(tz=tz, windows=(rules.Window(s.start_time, s.end_time),)), at=at)),
        shifts[0] if shifts else None)


def activity_record_unchecked(*, rep_channel: SalesRepChannel, activity: SalesRepChannelActivity, at: datetime,
                              message_id: int | None = None) -> ActivityRecord:
    """Write one ledger row after the caller ran activity_check under the same rep-channel lock."""
    schedule = schedule_for(rep_channel, activity, around=at)
    day = rules.shift_day(schedule=schedule, at=at)
    windows = rules.windows_on(schedule=_shift_schedule(Performed(rep_channel, activity, schedule, at)), day=day)
    shifts = shifts_materialize({(rep_channel.rep_id, day): windows}, at=at)
    return ActivityRecord.objects.create(rep_channel_activity=activity, shift=_shift_at(shifts[(rep_channel.rep_id, day)], schedule.tz, at),
                                         shift_day=day, performed_at=at, message_id=message_id)
