"""The capacity ledger: checking and recording activities, warm-up allowances, shift errors."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import date, datetime

from django.db import transaction
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
    A day the check reaches the allowance of becomes an active warm-up day (its allowance is
    stored). Caller holds the rep-channel row lock."""
    capacity = capacity_of(rep_channel=rep_channel, activity=activity, at=at)
    if rules.capacity_counts_day(capacity=capacity, at=at) and not capacity.allowance_stored:
        stored = allowance_store(rep_channel=rep_channel, activity=activity, day=capacity.day, allowance=capacity.allowance)
        capacity = replace(capacity, allowance=stored, allowance_stored=True)
    refusal = rules.capacity_refusal(capacity=capacity, at=at)
    if refusal:
        raise CapacityRefused(refusal.code, refusal.reason, refusal.until)
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
    if level not in (0, 1, 2):
        raise ValueError("level must be 0 (info), 1 (warning) or 2 (error)")
    error = ShiftError.objects.create(shift=shift, rep_channel=rep_channel, message=message, code=code, level=level)
    log.warning("shift error", rep_channel=rep_channel.id if rep_channel else None, code=code, level=level)
    return error


def activities_record_unchecked(items: list[tuple[SalesRepChannel, SalesRepChannelActivity, rules.Schedule, datetime, int | None]]) -> None:
    """activity_record_unchecked for many (rep-channel, activity, its schedule, at, message id)
    in two statements: the shifts of their days, then one COPY of the ledger rows."""
    if not items:
        return
    days = [(rc, activity, rules.shift_day(schedule=schedule, at=at), at, message_id) for rc, activity, schedule, at, message_id in items]
    shifts = defaultdict(list)
    for shift in (WorkingShift.objects.filter(rep_id__in={rc.rep_id for rc, *_ in days}, date__in={d for _, _, d, _, _ in days},
                                              is_day_off=False).order_by("number")):
        shifts[(shift.rep_id, shift.date)].append(shift)
    rows = [(activity.id, getattr(_shift_at(shifts[(rc.rep_id, day)], rc, at), "id", None), day, at, message_id)
            for rc, activity, day, at, message_id in days]
    copy_insert(ActivityRecord, ["rep_channel_activity_id", "shift_id", "shift_day", "performed_at", "message_id"], rows)


def _shift_at(shifts: list[WorkingShift], rep_channel: SalesRepChannel, at: datetime) -> WorkingShift | None:
    """The shift whose hours contain `at` (split shifts), else the day's first shift."""
    return next((s for s in shifts if s.start_time and s.end_time and s.start_time != s.end_time and rules.is_open(
        schedule=rules.Schedule(tz=rep_channel.timezone, windows=(rules.Window(s.start_time, s.end_time),)), at=at)),
        shifts[0] if shifts else None)


def activity_record_unchecked(*, rep_channel: SalesRepChannel, activity: SalesRepChannelActivity, at: datetime,
                              message_id: int | None = None) -> ActivityRecord:
    """Write the ledger row after the caller ran activity_check under the same rep-channel lock,
    against the shift whose hours contain `at` (split shifts), else the day's first shift."""
    schedule = schedule_for(rep_channel, activity, around=at)
    day = rules.shift_day(schedule=schedule, at=at)
    shift = _shift_at(list(WorkingShift.objects.filter(rep_id=rep_channel.rep_id, date=day, is_day_off=False).order_by("number")),
                      rep_channel, at)
    return ActivityRecord.objects.create(rep_channel_activity=activity, shift=shift, shift_day=day, performed_at=at, message_id=message_id)
