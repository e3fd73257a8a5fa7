"""Pure rules for when and how much a rep-channel may send: availability, shift windows in
the rep's zone, warm-up, binding limit and pacing. Plain values in and out, no database."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

UNLIMITED = sys.maxsize

# Ties go to the limit that lasts longest, so the reported wait is the one that really holds:
# a campaign cap is a total, the next three reset per shift day, the hourly one soonest.
BINDING_ORDER = ("campaign_cap", "activity_cap", "warmup", "channel_daily", "channel_hourly")


def is_available(*, rep_available: bool, channel_available: bool) -> bool:
    return rep_available and channel_available


@dataclass(frozen=True)
class Window:
    """Local wall-clock hours (a shift, a contact's allowed or quiet hours); end before start
    crosses midnight."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("window times are local wall-clock times and must be naive")
        if self.start == self.end:
            raise ValueError(f"empty window: start equals end ({self.start})")

    @property
    def crosses_midnight(self) -> bool:
        return self.end < self.start

    def contains(self, wall: time) -> bool:
        if self.crosses_midnight:
            return wall >= self.start or wall < self.end
        return self.start <= wall < self.end


def effective_window(
    *,
    channel_start: time,
    channel_end: time,
    activity_start: time | None = None,
    activity_end: time | None = None,
) -> Window:
    if activity_start is not None and activity_end is not None:
        return Window(start=activity_start, end=activity_end)
    return Window(start=channel_start, end=channel_end)


def validate_tz(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError, TypeError):
        raise ValueError(f"unknown time zone: {name!r}") from None
    return name


def validate_country(code: str) -> str:
    """An ISO 3166 alpha-2 code whose public holidays the `holidays` library knows."""
    if not isinstance(code, str) or len(code) != 2 or not code.isupper() or code not in holidays.list_supported_countries():
        raise ValueError(f"unknown country code {code!r} (use an ISO 3166 alpha-2 code such as PT, FR or US)")
    return code


@lru_cache(maxsize=512)
def _holidays_of(country: str, year: int) -> tuple[tuple[date, str], ...]:
    return tuple(sorted(holidays.country_holidays(country, years=year).items()))


def public_holidays(*, country: str, first: date, last: date) -> dict[date, str]:
    """The country's public holidays (date → name) from `first` to `last` inclusive."""
    validate_country(country)
    return {day: name for year in range(first.year, last.year + 1)
            for day, name in _holidays_of(country, year) if first <= day <= last}


@dataclass(frozen=True)
class Schedule:
    """A rep-channel's week: its zone, daily windows (several = split shift), the weekdays
    worked (Monday=0) and local dates off. A shift belongs to the local date it starts on.

    `overrides` gives dated shifts: on a date it names, its windows (several = a split shift
    that day, none = not working) replace the daily windows, whatever the weekday; a window
    crossing midnight still belongs to the date it starts on. A day off wins over everything.
    Pass a mapping or (date, windows) pairs; it is kept as a sorted tuple of pairs, so a
    Schedule stays frozen and hashable.

    `week`, when given, is the weekly schedule: seven tuples of windows, Monday first (several
    = a split shift, none = not worked); it replaces `windows` and `weekdays`."""

    tz: str
    windows: tuple[Window, ...]
    days_off: frozenset[date] = frozenset()
    weekdays: frozenset[int] = frozenset(range(7))
    overrides: tuple[tuple[date, tuple[Window, ...]], ...] = ()
    week: tuple[tuple[Window, ...], ...] | None = None
    # Every-day hours that narrow the windows above (an activity's own hours inside the rep's
    # shifts): a shift is open only while each of these is open too; it keeps its shift day.
    narrow: tuple[Window, ...] = ()
    _by_day: Mapping[date, tuple[Window, ...]] = field(
        init=False, repr=False, compare=False, hash=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        validate_tz(self.tz)
        if not set(self.weekdays) <= set(range(7)):
            raise ValueError(f"weekdays must be within 0..6, got {sorted(self.weekdays)}")
        if self.week is not None:
            week = tuple(tuple(day_windows) for day_windows in self.week)
            if len(week) != 7:
                raise ValueError(f"a week has 7 days of windows (Monday first), got {len(week)}")
            if not all(isinstance(w, Window) for day_windows in week for w in day_windows):
                raise ValueError("the week's windows must be Windows")
            object.__setattr__(self, "week", week)
        if not all(isinstance(w, Window) for w in self.narrow):
            raise ValueError("narrowing hours must be Windows")
        object.__setattr__(self, "narrow", tuple(self.narrow))
        object.__setattr__(self, "days_off", frozenset(self.days_off))
        pairs = self.overrides.items() if isinstance(self.overrides, Mapping) else self.overrides
        by_day: dict[date, tuple[Window, ...]] = {}
        for day, day_windows in pairs:
            if isinstance(day, datetime) or not isinstance(day, date):
                raise ValueError(f"override keys must be dates, got {day!r}")
            if day in by_day:
                raise ValueError(f"overrides name {day} twice")
            day_windows = tuple(day_windows)
            if not all(isinstance(w, Window) for w in day_windows):
                raise ValueError(f"overrides for {day} must be Windows")
            by_day[day] = day_windows
        object.__setattr__(self, "overrides", tuple(sorted(by_day.items())))
        object.__setattr__(self, "_by_day", by_day)


def windows_on(*, schedule: Schedule, day: date) -> tuple[Window, ...]:
    """The windows starting on local date `day`: none on a day off, the day's overrides if it
    has any, else that weekday's windows of the week, or the daily windows on a weekday worked."""
    if day in schedule.days_off:
        return ()
    if day in schedule._by_day:
        return schedule._by_day[day]
    if schedule.week is not None:
        return schedule.week[day.weekday()]
    if day.weekday() not in schedule.weekdays:
        return ()
    return schedule.windows


def works_regularly(schedule: Schedule) -> bool:
    """Whether some weekday has windows (dated overrides aside)."""
    if schedule.week is not None:
        return any(schedule.week)
    return bool(schedule.windows) and bool(schedule.weekdays)


def days_in_ranges(ranges, *, first: date, last: date) -> frozenset[date]:
    """The dates of inclusive (first_day, last_day) ranges that fall within [first, last]: time off
    is expanded only as far as the rules look."""
    out: set[date] = set()
    for start, end in ranges:
        if end < start:
            raise ValueError(f"a range ending {end} before it starts {start}")
        day, stop = max(start, first), min(end, last)
        while day <= stop:
            out.add(day)
            day += timedelta(days=1)
    return frozenset(out)


def local_instant(*, day: date, at: time, tz: str) -> datetime:
    """The earliest instant whose local wall clock reads `day at` or later (aware, UTC):
    a time skipped by spring-forward gives the gap's end, a repeated one its first occurrence."""
    zone = ZoneInfo(tz)
    wall = datetime.combine(day, at.replace(tzinfo=None))
    first = wall.replace(tzinfo=zone).astimezone(UTC)  # fold=0: first occurrence
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first
    # In a gap fold=0 lands after the transition and fold=1 before it: bisect to the transition.
    lo = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    hi = first
    before = lo.astimezone(zone).utcoffset()
    while hi - lo > timedelta(microseconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(zone).utcoffset() == before:
            lo = mid
        else:
            hi = mid
    return hi


def _local_date(at: datetime, tz: str) -> date:
    if at.tzinfo is None:
        raise ValueError("expected an aware datetime")
    return at.astimezone(ZoneInfo(tz)).date()


def _day_intervals(schedule: Schedule, day: date) -> list[tuple[datetime, datetime, date]]:
    out = []
    for window in windows_on(schedule=schedule, day=day):
        opens = local_instant(day=day, at=window.start, tz=schedule.tz)
        end_day = day + timedelta(days=1) if window.crosses_midnight else day
        closes = local_instant(day=end_day, at=window.end, tz=schedule.tz)
        # A window lying wholly inside a DST gap collapses to nothing that day.
        if opens < closes:
            out.append((opens, closes, day))
    for hours in schedule.narrow:
        spans = _every_day(hours, schedule.tz, day)
        out = [(max(opens, lo), min(closes, hi), d) for opens, closes, d in out for lo, hi in spans
               if max(opens, lo) < min(closes, hi)]
    return sorted(out)


def open_windows(*, schedule: Schedule, day: date) -> tuple[Window, ...]:
    """The wall-clock hours the schedule is open on shift day `day`, narrowing applied (what a
    manager reads: an 08:00–10:00 activity in a 09:00–13:00 shift is open 09:00–10:00)."""
    zone = ZoneInfo(schedule.tz)
    return tuple(Window(opens.astimezone(zone).time().replace(tzinfo=None), closes.astimezone(zone).time().replace(tzinfo=None))
                 for opens, closes, _ in _day_intervals(schedule, day))


def _every_day(hours: Window, tz: str, day: date) -> list[tuple[datetime, datetime]]:
    """The UTC spans of every-day hours from the day before `day` to the day after: a shift of
    `day` crossing midnight ends on the next day at the latest."""
    spans = []
    for offset in (-1, 0, 1):
        start_day = day + timedelta(days=offset)
        opens = local_instant(day=start_day, at=hours.start, tz=tz)
        closes = local_instant(day=start_day + timedelta(days=1) if hours.crosses_midnight else start_day, at=hours.end, tz=tz)
        if opens < closes:
            spans.append((opens, closes))
    return spans


def shift_intervals(
    *, schedule: Schedule, around: datetime, days_after: int = 2
) -> list[tuple[datetime, datetime, date]]:
    """[open, close) UTC intervals with their shift day, for shift days from two days before
    `around`'s local date (a night shift may still be running) to `days_after` days after."""
    first = _local_date(around, schedule.tz) - timedelta(days=2)
    out = []
    for offset in range(days_after + 3):
        out.extend(_day_intervals(schedule, first + timedelta(days=offset)))
    return sorted(out)


def shift_day(*, schedule: Schedule, at: datetime) -> date:
    # Overlapping windows: the shift that opened first (the one already running) owns it. A shift
    # day's windows open on that day, so the earliest day is the earliest shift — also once narrowing
    # has cut the running shift's start to the same instant as the next day's.
    days = [day for opens, closes, day in _intervals_near(schedule, at) if opens <= at < closes]
    return min(days) if days else _local_date(at, schedule.tz)


def _intervals_near(schedule: Schedule, at: datetime) -> list[tuple[datetime, datetime, date]]:
    # One day ahead too: a fall-back across midnight can put `at` after the next day began.
    return shift_intervals(schedule=schedule, around=at, days_after=1)


def is_open(*, schedule: Schedule, at: datetime) -> bool:
    return any(opens <= at < closes for opens, closes, _ in _intervals_near(schedule, at))


def _day_start(schedule: Schedule, day: date) -> datetime:
    # No window of `day` can open before this: local_instant is monotone in wall time.
    return local_instant(day=day, at=time(0), tz=schedule.tz)


def next_opening(
    *, schedule: Schedule, at: datetime, horizon_days: int = 400
) -> datetime | None:
    if is_open(schedule=schedule, at=at):
        return at
    if not works_regularly(schedule) and not any(w for _, w in schedule.overrides):
        return None
    first = _local_date(at, schedule.tz) - timedelta(days=1)
    best: datetime | None = None
    for offset in range(horizon_days + 2):
        day = first + timedelta(days=offset)
        if best is not None and _day_start(schedule, day) >= best:
            break
        for opens, _, _ in _day_intervals(schedule, day):
            if opens > at and (best is None or opens < best):
                best = opens
    return best


def current_window_end(
    *, schedule: Schedule, at: datetime, horizon_days: int = 400
) -> datetime | None:
    """When the rep stops being open, or None if closed now. Touching or overlapping windows
    are one stretch; a stretch running past the horizon reports the horizon's last close."""
    intervals = _intervals_near(schedule, at)
    ends = [closes for opens, closes, _ in intervals if opens <= at < closes]
    if not ends:
        return None
    end = max(ends)
    day = _local_date(at, schedule.tz) + timedelta(days=1)
    for _ in range(horizon_days):
        for opens, closes, _day in intervals:
            if opens <= end < closes:
                end = closes
        day += timedelta(days=1)
        if _day_start(schedule, day) > end:
            break
        intervals = _day_intervals(schedule, day)
    return end


def allowance_for_day(
    *, max_capacity: int, warmup_start: int | None, warmup_step: int, active_day_index: int
) -> int:
    """Sends allowed on the warm-up's `active_day_index`-th active day (0 = first)."""
    if active_day_index < 0 or warmup_step < 0:
        raise ValueError("active_day_index and warmup_step must not be negative")
    if max_capacity <= 0:
        return 0
    if warmup_start is None:
        return max_capacity
    return max(0, min(max_capacity, warmup_start + warmup_step * active_day_index))


def next_allowance(
    *, previous: int | None, max_capacity: int, warmup_start: int | None, warmup_step: int
) -> int:
    """Next active day's allowance from the stored one. The ramp itself never goes down, but a
    max lowered below the previous allowance wins at once: the max is the manager's decision."""
    if previous is None:
        return allowance_for_day(
            max_capacity=max_capacity,
            warmup_start=warmup_start,
            warmup_step=warmup_step,
            active_day_index=0,
        )
    if warmup_step < 0:
        raise ValueError("warmup_step must not be negative")
    if max_capacity <= 0:
        return 0
    if warmup_start is None:
        return max_capacity
    return max(0, min(max_capacity, previous + warmup_step))


def remaining(*, allowance: int, used: int) -> int:
    return max(0, allowance - used)


def _binding_rank(name: str) -> tuple[int, str]:
    if name in BINDING_ORDER:
        return (BINDING_ORDER.index(name), "")
    return (len(BINDING_ORDER), name)


def binding_limit(*, limits: dict[str, int | None]) -> tuple[str, int]:
    """The tightest of the named remaining limits (None = unlimited, negatives count as 0);
    ties follow BINDING_ORDER, then other names alphabetically. None set: ("none", UNLIMITED)."""
    set_limits = [
        (max(0, value), _binding_rank(name), name)
        for name, value in limits.items()
        if value is not None
    ]
    if not set_limits:
        return ("none", UNLIMITED)
    value, _, name = min(set_limits)
    return (name, value)


def pacing_delay(
    *,
    last_sent_at: datetime | None,
    now: datetime,
    min_gap_seconds: float,
    jitter_seconds: float,
    rand: float,
) -> float:
    """Seconds to wait so that consecutive sends are min_gap + jitter*rand apart; `rand` in
    [0, 1) comes from the caller so this stays pure."""
    if not 0 <= rand < 1:
        raise ValueError(f"rand must be in [0, 1), got {rand}")
    if min_gap_seconds < 0 or jitter_seconds < 0:
        raise ValueError("gap and jitter must not be negative")
    if last_sent_at is None:
        return 0.0
    gap = min_gap_seconds + jitter_seconds * rand
    return max(0.0, gap - (now - last_sent_at).total_seconds())


def local_label(instant: datetime | None, tz: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An instant as the person in `tz` reads it, for reasons shown to users."""
    if instant is None:
        return "no further shift"
    return f"{instant.astimezone(ZoneInfo(tz)):{fmt}} {tz}"


def after_shift_day(*, schedule: Schedule, day: date, end: datetime) -> datetime:
    """The first instant whose shift day is later than `day`: capacity is counted per shift day."""
    probe = end
    for _ in range(400):
        if shift_day(schedule=schedule, at=probe) > day and is_open(schedule=schedule, at=probe):
            return probe
        nxt = next_opening(schedule=schedule, at=probe + timedelta(seconds=1))
        if nxt is None:
            return probe
        probe = nxt
    return probe


@dataclass(frozen=True)
class Refusal:
    """Why an activity may not happen now, and from when it may (None: no known time)."""

    code: str
    reason: str
    until: datetime | None = None


@dataclass(frozen=True)
class Capacity:
    """What the capacity check needs of one rep-channel activity on the shift day of `at`."""

    schedule: Schedule
    available: bool
    max_capacity: int
    day: date  # shift_day(schedule, at), computed by whoever read `allowance` and `used` for it
    allowance: int  # the warm-up allowance stored for that day, or what it would get
    allowance_stored: bool
    used: int


def capacity_refusal(*, capacity: Capacity, at: datetime) -> Refusal | None:
    """None if one more activity may happen at `at`: available, inside a shift, the activity
    on, and both the warm-up allowance and the max not used up."""
    schedule, cap, allowance = capacity.schedule, capacity.max_capacity, capacity.allowance
    if not capacity.available:
        return Refusal("unavailable", "rep is marked unavailable")
    if not is_open(schedule=schedule, at=at):
        opening = next_opening(schedule=schedule, at=at)
        return Refusal("outside_shift", f"outside shift until {local_label(opening, schedule.tz)}", opening)
    if cap == 0:
        return Refusal("activity_off", "activity is off for this rep-channel (capacity 0)")
    if remaining(allowance=min(allowance, cap), used=capacity.used) <= 0:
        end = current_window_end(schedule=schedule, at=at) or at
        opening = next_opening(schedule=schedule, at=after_shift_day(schedule=schedule, day=capacity.day, end=end))
        code = "warmup" if allowance < cap else "activity_cap"
        what = "warm-up allowance" if code == "warmup" else "daily capacity"
        figure = allowance if code == "warmup" else cap
        return Refusal(code, f"{what} reached ({figure}), next shift {local_label(opening, schedule.tz)}", opening)
    return None


def capacity_counts_day(*, capacity: Capacity, at: datetime) -> bool:
    """Whether the check reached the day's allowance (available, open, activity on): such a day
    is an active warm-up day and its allowance is stored."""
    return capacity.available and is_open(schedule=capacity.schedule, at=at) and capacity.max_capacity != 0


# Refusals and failures that are kept as shift errors, with their level (0 info, 1 warning, 2
# error). Pacing, quiet hours and contact windows are the normal shape of outreach, not errors.
SHIFT_ERROR_LEVELS = {
    "outside_shift": 1, "activity_cap": 1, "warmup": 1, "channel_hourly": 1, "channel_daily": 1,
    "activity_off": 2, "service_retry": 1, "delivery_unknown": 1, "service_failed": 2,
}


def shift_error_level(code: str, *, open_now: bool) -> int | None:
    """The level a refusal or failure is kept at, or None if it is not a shift error. A rep marked
    unavailable is one only while their shift is open: outside it nobody expects them."""
    if code == "unavailable":
        return 1 if open_now else None
    return SHIFT_ERROR_LEVELS.get(code)
