"""A rep's weekly schedule: time zone, weekly windows and time off, checked and replaced as one.

The dated shifts (salesreps.services.shifts), the capacity ledger and the day's shift records are
never touched here: a schedule edited mid-day changes what is allowed from now on, not what was done.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, time

from django.core.exceptions import ValidationError
from django.db import transaction

from core.logs import entity_log
from salesreps.models import ChannelActivity, SalesRep, TimeOff, WeeklyWindow, validate_timezone

log = entity_log("reps")

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MAX_WINDOWS = 200
MAX_TIME_OFF = 1000


def _span(start: time, end: time) -> str:
    return f"{start:%H:%M}–{end:%H:%M}"


def _seconds(start: time, end: time) -> tuple[float, float]:
    # On a 48-hour line from the weekday's 00:00: a window crossing midnight runs into the next day.
    def of(t: time) -> float:
        return t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6

    return of(start), of(end) + (86400 if end < start else 0)


def schedule_week_check(*, rep: SalesRep, week: Iterable[dict]) -> list[WeeklyWindow]:
    """The weekly windows as unsaved rows, or ValidationError({"week": [...]}) naming each bad entry
    and its value: a weekday outside 0..6, end equal to start, windows of one weekday and one
    activity scope that overlap, an activity none of the rep's channels has."""
    items = list(week)
    if len(items) > MAX_WINDOWS:
        raise ValidationError({"week": f"at most {MAX_WINDOWS} windows, got {len(items)}"})
    errors: list[str] = []
    rows: list[WeeklyWindow] = []
    for n, item in enumerate(items):
        weekday, start, end, activity = item.get("weekday"), item.get("start"), item.get("end"), item.get("activity") or ""
        where = f"week[{n}]"
        if not isinstance(weekday, int) or isinstance(weekday, bool) or not 0 <= weekday <= 6:
            errors.append(f"{where}: weekday {weekday!r} is not 0 (Monday) to 6 (Sunday)")
            continue
        if not isinstance(start, time) or not isinstance(end, time):
            errors.append(f"{where}: set both start and end (HH:MM)")
            continue
        if start.tzinfo is not None or end.tzinfo is not None:
            errors.append(f"{where}: {start}–{end}: times are local wall-clock times, without an offset")
            continue
        if start == end:
            errors.append(f"{where} ({WEEKDAYS[weekday]}): end {end:%H:%M} equals start {start:%H:%M}: the window would be empty")
            continue
        rows.append(WeeklyWindow(rep=rep, weekday=weekday, start_time=start, end_time=end, activity=activity))

    by_scope: dict[tuple[int, str], list[WeeklyWindow]] = defaultdict(list)
    for row in rows:
        by_scope[(row.weekday, row.activity)].append(row)
    for (weekday, activity), scoped in sorted(by_scope.items()):
        scoped.sort(key=lambda r: _seconds(r.start_time, r.end_time))
        scope = f"activity {activity!r}" if activity else "every activity"
        for before, after in zip(scoped, scoped[1:], strict=False):
            if _seconds(after.start_time, after.end_time)[0] < _seconds(before.start_time, before.end_time)[1]:
                errors.append(f"week: {WEEKDAYS[weekday]} {_span(after.start_time, after.end_time)} overlaps "
                              f"{_span(before.start_time, before.end_time)} ({scope})")

    named = sorted({row.activity for row in rows if row.activity})
    if named:
        offered = set(ChannelActivity.objects.filter(channel__rep_channels__rep=rep).values_list("name", flat=True)) if rep.pk else set()
        for name in named:
            if name not in offered:
                has = ", ".join(sorted(offered)) or "none"
                errors.append(f"week: activity {name!r} is not an activity of any of {rep}'s channels (they have: {has})")
    if errors:
        raise ValidationError({"week": errors})
    return rows


def schedule_time_off_check(*, rep: SalesRep, time_off: Iterable[dict]) -> list[TimeOff]:
    """The time off as unsaved rows, or ValidationError({"time_off": [...]}) naming each range that
    ends before it starts."""
    items = list(time_off)
    if len(items) > MAX_TIME_OFF:
        raise ValidationError({"time_off": f"at most {MAX_TIME_OFF} ranges, got {len(items)}"})
    errors, rows = [], []
    for n, item in enumerate(items):
        first, last, reason = item.get("first_day"), item.get("last_day"), item.get("reason") or ""
        if not isinstance(first, date) or not isinstance(last, date):
            errors.append(f"time_off[{n}]: set both first_day and last_day (YYYY-MM-DD)")
        elif last < first:
            errors.append(f"time_off[{n}]: last_day {last} is before first_day {first}")
        elif len(reason) > 200:
            errors.append(f"time_off[{n}]: reason is longer than 200 characters")
        else:
            rows.append(TimeOff(rep=rep, first_day=first, last_day=last, reason=reason))
    if errors:
        raise ValidationError({"time_off": errors})
    return rows


def schedule_timezone_check(value: str) -> str:
    try:
        validate_timezone(value)
    except ValidationError as exc:
        raise ValidationError({"timezone": exc.messages}) from None
    return value


@transaction.atomic
def rep_schedule_set(*, rep: SalesRep, timezone: str | None = None, week: Iterable[dict] | None = None,
                     time_off: Iterable[dict] | None = None) -> SalesRep:
    """Replace the rep's time zone, weekly windows ({weekday 0=Monday, start, end, activity ""=every
    activity}) and time off ({first_day, last_day, reason}) at once; None keeps that part. All is
    checked before anything is written; a refusal names the field and the value. Holds the rep's
    row lock, so two editors replace one after the other and never merge into overlaps."""
    rep = SalesRep.objects.select_for_update(of=("self",)).get(pk=rep.pk)
    checks = {}
    if timezone is not None:
        checks["timezone"] = lambda: schedule_timezone_check(timezone)
    if week is not None:
        checks["week"] = lambda: schedule_week_check(rep=rep, week=week)
    if time_off is not None:
        checks["time_off"] = lambda: schedule_time_off_check(rep=rep, time_off=time_off)
    errors: dict[str, list[str]] = {}
    checked = {}
    for name, check in checks.items():  # every part checked, so one answer names every problem
        try:
            checked[name] = check()
        except ValidationError as exc:
            for field_name, messages in exc.message_dict.items():
                errors.setdefault(field_name, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    if timezone is not None and timezone != rep.timezone:
        rep.timezone = timezone
        rep.save(update_fields=["timezone"])
    if week is not None:
        WeeklyWindow.objects.filter(rep=rep).delete()
        WeeklyWindow.objects.bulk_create(checked["week"])
    if time_off is not None:
        TimeOff.objects.filter(rep=rep).delete()
        TimeOff.objects.bulk_create(checked["time_off"])
    log.info("rep schedule set", rep=rep.id, timezone=rep.timezone,
             windows=len(checked["week"]) if week is not None else None,
             time_off=len(checked["time_off"]) if time_off is not None else None)
    return rep
