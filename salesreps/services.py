"""Sales-rep write path: availability, presence, the capacity ledger, warm-up, shift errors."""
from __future__ import annotations

from datetime import date, datetime

from django.db import transaction
from django.utils import timezone

from core.logs import entity_log
from core.realtime import emit
from salesreps import rules
from salesreps.models import (
    ActivityRecord,
    DailyAllowance,
    SalesRep,
    SalesRepChannel,
    SalesRepChannelActivity,
    ShiftError,
    WorkingShift,
)

log = entity_log("reps")


class CapacityRefused(Exception):
    """The activity may not be performed now; `code` and `reason` say which limit binds."""

    def __init__(self, code: str, reason: str, until: datetime | None = None):
        super().__init__(reason)
        self.code, self.reason, self.until = code, reason, until


def _manager_user_ids(rep: SalesRep) -> list[int]:
    from inbox.selectors import admin_user_ids

    managers = SalesRep.objects.filter(role="manager", team_id=rep.team_id, user__is_active=True) if rep.team_id else []
    return sorted({m.user_id for m in managers} | set(admin_user_ids()))


def rep_presence_changed(*, rep_id: int, online: bool) -> None:
    rep = SalesRep.objects.filter(pk=rep_id).first()
    if rep is None:
        return
    with transaction.atomic():
        emit("rep.presence", {"rep_id": rep.id, "online": online, "available": rep.is_available}, _manager_user_ids(rep))


@transaction.atomic
def rep_set_availability(*, rep: SalesRep, available: bool, channel_id: int | None = None) -> None:
    """Global availability (channel_id None) or one rep-channel's flag."""
    from core.presence import online_rep_ids

    if channel_id is None:
        SalesRep.objects.filter(pk=rep.pk).update(is_available=available)
        rep.is_available = available
    else:
        updated = SalesRepChannel.objects.filter(rep=rep, channel_id=channel_id).update(is_available=available)
        if not updated:
            raise ValueError(f"rep {rep.id} has no channel {channel_id}")
    emit("rep.presence", {"rep_id": rep.id, "online": rep.id in online_rep_ids([rep.id]), "available": rep.is_available},
         _manager_user_ids(rep) + [rep.user_id])
    log.info("availability changed", rep=rep.id, channel=channel_id, available=available)


def schedule_for(rep_channel: SalesRepChannel, activity: SalesRepChannelActivity | None) -> rules.Schedule:
    """The rep-channel-activity's working schedule: its window, and the rep's days off."""
    window = rules.effective_window(
        channel_start=rep_channel.start_time, channel_end=rep_channel.end_time,
        activity_start=activity.start_time if activity else None, activity_end=activity.end_time if activity else None,
    )
    days_off = frozenset(
        WorkingShift.objects.filter(rep_id=rep_channel.rep_id, is_day_off=True).values_list("date", flat=True)
    )
    extra = tuple(
        rules.Window(s.start_time, s.end_time)
        for s in WorkingShift.objects.filter(rep_id=rep_channel.rep_id, is_day_off=False, number__gt=1,
                                             start_time__isnull=False, end_time__isnull=False)
        .order_by("number").distinct("number")
    ) if activity is None or activity.start_time is None else ()
    return rules.Schedule(tz=rep_channel.timezone, windows=(window, *extra), days_off=days_off)


def max_capacity(rep_channel: SalesRepChannel, activity: SalesRepChannelActivity | None) -> int:
    if activity is not None and activity.max_capacity is not None:
        return activity.max_capacity
    return rep_channel.max_daily_capacity


def allowance_for(*, rep_channel: SalesRepChannel, activity: SalesRepChannelActivity | None, day: date) -> int:
    """Today's warm-up allowance, stored per active day so it survives restarts and can be shown.
    Caller holds the rep-channel row lock when it may create the row."""
    own = activity if activity is not None and activity.max_capacity is not None else None
    rows = DailyAllowance.objects.filter(rep_channel=rep_channel, rep_channel_activity=own)
    stored = rows.filter(day=day).values_list("allowance", flat=True).first()
    if stored is not None:
        return stored
    previous = rows.filter(day__lt=day).order_by("-day").values_list("allowance", flat=True).first()
    allowance = rules.next_allowance(
        previous=previous, max_capacity=max_capacity(rep_channel, activity),
        warmup_start=rep_channel.warmup_start, warmup_step=rep_channel.warmup_step,
    )
    DailyAllowance.objects.get_or_create(
        rep_channel=rep_channel, rep_channel_activity=own, day=day, defaults={"allowance": allowance}
    )
    return allowance


def used_on(*, activity: SalesRepChannelActivity, day: date) -> int:
    return ActivityRecord.objects.filter(rep_channel_activity=activity, shift_day=day).count()


def activity_check(*, rep_channel: SalesRepChannel, activity: SalesRepChannelActivity, at: datetime) -> tuple[date, int]:
    """(shift day, remaining) if the activity may happen at `at`; raises CapacityRefused otherwise.
    Caller holds the rep-channel row lock."""
    rep = rep_channel.rep
    if not rules.is_available(rep_available=rep.is_available, channel_available=rep_channel.is_available):
        raise CapacityRefused("unavailable", "rep is marked unavailable")
    schedule = schedule_for(rep_channel, activity)
    if not rules.is_open(schedule=schedule, at=at):
        opening = rules.next_opening(schedule=schedule, at=at)
        raise CapacityRefused("outside_shift", f"outside shift until {_local(opening, rep_channel.timezone)}", opening)
    day = rules.shift_day(schedule=schedule, at=at)
    cap = max_capacity(rep_channel, activity)
    if cap == 0:
        raise CapacityRefused("activity_off", "activity is off for this rep-channel (capacity 0)")
    allowance = allowance_for(rep_channel=rep_channel, activity=activity, day=day)
    remaining = rules.remaining(allowance=min(allowance, cap), used=used_on(activity=activity, day=day))
    if remaining <= 0:
        end = rules.current_window_end(schedule=schedule, at=at) or at
        opening = rules.next_opening(schedule=schedule, at=_after_shift_day(schedule, day, end))
        code = "warmup" if allowance < cap else "activity_cap"
        what = "warm-up allowance" if code == "warmup" else "daily capacity"
        figure = allowance if code == "warmup" else cap
        raise CapacityRefused(code, f"{what} reached ({figure}), next shift {_local(opening, rep_channel.timezone)}", opening)
    return day, remaining


def _after_shift_day(schedule: rules.Schedule, day: date, end: datetime) -> datetime:
    """The first instant whose shift day is later than `day`: capacity is counted per shift day."""
    from datetime import timedelta

    probe = end
    for _ in range(400):
        if rules.shift_day(schedule=schedule, at=probe) > day and rules.is_open(schedule=schedule, at=probe):
            return probe
        nxt = rules.next_opening(schedule=schedule, at=probe + timedelta(seconds=1))
        if nxt is None:
            return probe
        probe = nxt
    return probe


def _local(instant: datetime | None, tz: str) -> str:
    if instant is None:
        return "no further shift"
    from zoneinfo import ZoneInfo

    return f"{instant.astimezone(ZoneInfo(tz)):%Y-%m-%d %H:%M} {tz}"


@transaction.atomic
def activity_record(*, rep_channel_activity_id: int, at: datetime | None = None, message_id: int | None = None) -> ActivityRecord:
    """Record one activity if window and capacity allow: the rep-channel row lock serialises racers,
    so the cap is never exceeded however many workers try at once."""
    at = at or timezone.now()
    activity = SalesRepChannelActivity.objects.select_related("activity").get(pk=rep_channel_activity_id)
    rep_channel = SalesRepChannel.objects.select_for_update().select_related("rep").get(pk=activity.rep_channel_id)
    day, _remaining = activity_check(rep_channel=rep_channel, activity=activity, at=at)
    shift = WorkingShift.objects.filter(rep_id=rep_channel.rep_id, date=day, is_day_off=False).order_by("number").first()
    record = ActivityRecord.objects.create(
        rep_channel_activity=activity, shift=shift, shift_day=day, performed_at=at, message_id=message_id,
    )
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


def activity_record_unchecked(*, rep_channel: SalesRepChannel, activity: SalesRepChannelActivity, at: datetime,
                              message_id: int | None = None) -> ActivityRecord:
    """Write the ledger row after the caller ran activity_check under the same rep-channel lock."""
    schedule = schedule_for(rep_channel, activity)
    day = rules.shift_day(schedule=schedule, at=at)
    shift = WorkingShift.objects.filter(rep_id=rep_channel.rep_id, date=day, is_day_off=False).order_by("number").first()
    return ActivityRecord.objects.create(rep_channel_activity=activity, shift=shift, shift_day=day, performed_at=at, message_id=message_id)
