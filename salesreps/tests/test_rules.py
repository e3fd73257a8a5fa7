"""Shift windows, DST, warm-up, binding limit and pacing, pinned by tables and properties."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salesreps.rules import (
    UNLIMITED,
    Schedule,
    Window,
    allowance_for_day,
    binding_limit,
    current_window_end,
    effective_window,
    is_available,
    is_open,
    local_instant,
    next_allowance,
    next_opening,
    pacing_delay,
    remaining,
    shift_day,
    shift_intervals,
    validate_tz,
    windows_on,
)
from salesreps.tests.dst import transition_days

NY, BERLIN = "America/New_York", "Europe/Berlin"
# Santiago changes clocks at midnight (its fall-back repeats 23:00-24:00), Lord Howe by 30 min.
ZONES = [NY, BERLIN, "UTC", "Asia/Kolkata", "America/Santiago", "Australia/Lord_Howe"]
NIGHT = Window(start=time(22), end=time(6))
SPLIT = (Window(start=time(9), end=time(12)), Window(start=time(14), end=time(18)))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(tz: str, *args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(tz), fold=fold).astimezone(UTC)


def _transition_days() -> list[date]:
    return transition_days(ZONES)


TRANSITION_DAYS = _transition_days()
days = st.one_of(
    st.sampled_from(TRANSITION_DAYS), st.dates(date(2025, 1, 1), date(2027, 12, 31))
)
# Quarter hours land on DST edges (02:00, 02:30, 03:00) far more often than random seconds.
quarter_times = st.builds(
    time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]), st.sampled_from([0, 0, 59])
)
windows = st.tuples(quarter_times, quarter_times).filter(lambda w: w[0] != w[1]).map(
    lambda w: Window(start=w[0], end=w[1])
)


@pytest.mark.parametrize(
    ("rep", "channel", "expected"),
    [(True, True, True), (True, False, False), (False, True, False), (False, False, False)],
)
def test_unavailable_rep_is_unavailable_on_every_channel(rep, channel, expected):
    assert is_available(rep_available=rep, channel_available=channel) is expected


def test_window_rejects_empty_and_knows_midnight():
    with pytest.raises(ValueError):
        Window(start=time(9), end=time(9))
    assert NIGHT.crosses_midnight
    assert not SPLIT[0].crosses_midnight


@pytest.mark.parametrize(
    ("activity", "expected"),
    [
        ((time(10), time(11)), Window(start=time(10), end=time(11))),
        ((time(10), None), Window(start=time(9), end=time(17))),
        ((None, None), Window(start=time(9), end=time(17))),
    ],
)
def test_activity_window_overrides_rep_channel_only_when_complete(activity, expected):
    got = effective_window(
        channel_start=time(9),
        channel_end=time(17),
        activity_start=activity[0],
        activity_end=activity[1],
    )
    assert got == expected


def test_validate_tz_names_the_unknown_zone():
    assert validate_tz(BERLIN) == BERLIN
    for bad in ["Mars/Olympus", "", "../etc/passwd", "America"]:
        with pytest.raises(ValueError, match="unknown time zone"):
            validate_tz(bad)
    with pytest.raises(ValueError, match="Mars/Olympus"):
        Schedule(tz="Mars/Olympus", windows=(NIGHT,))


@pytest.mark.parametrize(
    ("tz", "day", "at", "expected"),
    [
        (NY, date(2026, 3, 8), time(1, 59), utc(2026, 3, 8, 6, 59)),
        (NY, date(2026, 3, 8), time(2, 0), utc(2026, 3, 8, 7)),  # gap -> its end
        (NY, date(2026, 3, 8), time(2, 30), utc(2026, 3, 8, 7)),
        (NY, date(2026, 3, 8), time(3, 0), utc(2026, 3, 8, 7)),
        (NY, date(2026, 11, 1), time(1, 30), utc(2026, 11, 1, 5, 30)),  # repeat -> first (EDT)
        (NY, date(2026, 11, 1), time(2, 0), utc(2026, 11, 1, 7)),
        (BERLIN, date(2026, 3, 29), time(2, 30), utc(2026, 3, 29, 1)),
        (BERLIN, date(2026, 10, 25), time(2, 30), utc(2026, 10, 25, 0, 30)),  # CEST first
        (BERLIN, date(2026, 10, 25), time(3, 0), utc(2026, 10, 25, 2)),
        ("UTC", date(2026, 6, 1), time(12, 34, 56), utc(2026, 6, 1, 12, 34, 56)),
    ],
)
def test_local_instant_resolves_gaps_forward_and_repeats_to_first(tz, day, at, expected):
    assert local_instant(day=day, at=at, tz=tz) == expected


@settings(max_examples=200, deadline=None)
@given(tz=st.sampled_from(ZONES), day=days, at=quarter_times)
def test_local_instant_is_first_instant_reaching_the_wall_time(tz, day, at):
    zone, wall = ZoneInfo(tz), datetime.combine(day, at)
    got = local_instant(day=day, at=at, tz=tz)
    assert got.tzinfo is UTC
    assert got.astimezone(zone).replace(tzinfo=None) >= wall
    assert (got - timedelta(microseconds=1)).astimezone(zone).replace(tzinfo=None) < wall


# (schedule, at, open?, next opening, window end, shift day)
night_ny = Schedule(tz=NY, windows=(NIGHT,))
split_berlin = Schedule(tz=BERLIN, windows=SPLIT)
night_wed_off = Schedule(tz=NY, windows=(NIGHT,), days_off=frozenset({date(2026, 1, 7)}))
office_week = Schedule(
    tz=BERLIN, windows=(Window(start=time(9), end=time(17)),), weekdays=frozenset(range(5))
)
gap_ny = Schedule(tz=NY, windows=(Window(start=time(2, 30), end=time(4)),))
in_gap_ny = Schedule(tz=NY, windows=(Window(start=time(2), end=time(2, 45)),))
repeat_ny = Schedule(tz=NY, windows=(Window(start=time(1), end=time(1, 30)),))
repeat_berlin = Schedule(tz=BERLIN, windows=(Window(start=time(2, 30), end=time(3, 30)),))
CASES = [
    # 22:00-06:00 in New York (EST, UTC-5), shift day = the evening it starts
    (night_ny, local(NY, 2026, 1, 5, 23), True, None, local(NY, 2026, 1, 6, 6), date(2026, 1, 5)),
    (night_ny, local(NY, 2026, 1, 6, 5, 59), True, None, utc(2026, 1, 6, 11), date(2026, 1, 5)),
    (night_ny, local(NY, 2026, 1, 6, 6), False, local(NY, 2026, 1, 6, 22), None, date(2026, 1, 6)),
    (night_ny, local(NY, 2026, 1, 6, 21, 59), False, utc(2026, 1, 7, 3), None, date(2026, 1, 6)),
    # split shift 09-12 + 14-18 in Berlin (CET, UTC+1)
    (split_berlin, local(BERLIN, 2026, 1, 5, 11), True, None, utc(2026, 1, 5, 11),
     date(2026, 1, 5)),
    (split_berlin, local(BERLIN, 2026, 1, 5, 12, 30), False, utc(2026, 1, 5, 13), None,
     date(2026, 1, 5)),
    (split_berlin, local(BERLIN, 2026, 1, 5, 18, 30), False, utc(2026, 1, 6, 8), None,
     date(2026, 1, 5)),
    (split_berlin, local(BERLIN, 2026, 1, 5, 8), False, utc(2026, 1, 5, 8), None, date(2026, 1, 5)),
    # Wednesday off: its own night shift never starts, Tuesday's tail still runs into it
    (night_wed_off, local(NY, 2026, 1, 7, 3), True, None, local(NY, 2026, 1, 7, 6),
     date(2026, 1, 6)),
    (night_wed_off, local(NY, 2026, 1, 7, 7), False, local(NY, 2026, 1, 8, 22), None,
     date(2026, 1, 7)),
    (night_wed_off, local(NY, 2026, 1, 7, 23), False, local(NY, 2026, 1, 8, 22), None,
     date(2026, 1, 7)),
    # Monday-Friday: Friday evening waits for Monday 09:00
    (office_week, local(BERLIN, 2026, 1, 9, 19), False, local(BERLIN, 2026, 1, 12, 9), None,
     date(2026, 1, 9)),
    # spring forward: a window starting in the gap opens at the gap's end (03:00 EDT)
    (gap_ny, utc(2026, 3, 8, 5), False, utc(2026, 3, 8, 7), None, date(2026, 3, 8)),
    (gap_ny, utc(2026, 3, 8, 7), True, None, utc(2026, 3, 8, 8), date(2026, 3, 8)),
    # a window wholly inside the gap does not happen that day
    (in_gap_ny, utc(2026, 3, 8, 5), False, utc(2026, 3, 9, 6), None, date(2026, 3, 8)),
    # night shift across spring forward lasts 7 h, across fall back 9 h
    (night_ny, utc(2026, 3, 8, 3), True, None, utc(2026, 3, 8, 10), date(2026, 3, 7)),
    (night_ny, utc(2026, 11, 1, 2), True, None, utc(2026, 11, 1, 11), date(2026, 10, 31)),
    # fall back: a window in the repeated hour runs on its first pass only
    (repeat_ny, utc(2026, 11, 1, 5, 15), True, None, utc(2026, 11, 1, 5, 30), date(2026, 11, 1)),
    (repeat_ny, utc(2026, 11, 1, 6, 15), False, utc(2026, 11, 2, 6), None, date(2026, 11, 1)),
    (repeat_berlin, utc(2026, 10, 25, 0, 30), True, None, utc(2026, 10, 25, 2, 30),
     date(2026, 10, 25)),
    (repeat_berlin, utc(2026, 10, 25, 0, 29), False, utc(2026, 10, 25, 0, 30), None,
     date(2026, 10, 25)),
]


# Dated overrides (Tuesday 2026-01-06): they replace that day's windows and nothing else.
DAY = date(2026, 1, 6)
split_on_tuesday = Schedule(
    tz=BERLIN, windows=(Window(start=time(9), end=time(17)),), overrides={DAY: SPLIT}
)
night_override_ny = Schedule(
    tz=NY, windows=(Window(start=time(6), end=time(14)),), overrides={DAY: (NIGHT,)}
)
override_on_day_off = Schedule(
    tz=NY, windows=(NIGHT,), days_off=frozenset({date(2026, 1, 7)}),
    overrides={date(2026, 1, 7): (Window(start=time(10), end=time(12)),)},
)
saturday_on_monday_off = Schedule(
    tz=BERLIN, windows=(Window(start=time(9), end=time(17)),), weekdays=frozenset(range(5)),
    overrides={date(2026, 1, 10): (Window(start=time(10), end=time(14)),), date(2026, 1, 12): ()},
)
OVERRIDE_CASES = [
    # a split shift on one date: 13:00 is a break that day, 17:30 still in the second part
    (split_on_tuesday, local(BERLIN, 2026, 1, 6, 13), False, local(BERLIN, 2026, 1, 6, 14), None,
     DAY),
    (split_on_tuesday, local(BERLIN, 2026, 1, 6, 10), True, None, local(BERLIN, 2026, 1, 6, 12),
     DAY),
    (split_on_tuesday, local(BERLIN, 2026, 1, 6, 17, 30), True, None,
     local(BERLIN, 2026, 1, 6, 18), DAY),
    (split_on_tuesday, local(BERLIN, 2026, 1, 6, 18, 30), False, local(BERLIN, 2026, 1, 7, 9),
     None, DAY),
    (split_on_tuesday, local(BERLIN, 2026, 1, 5, 17, 30), False, local(BERLIN, 2026, 1, 6, 9),
     None, date(2026, 1, 5)),
    # the days around it keep the daily window
    (split_on_tuesday, local(BERLIN, 2026, 1, 7, 13), True, None, local(BERLIN, 2026, 1, 7, 17),
     date(2026, 1, 7)),
    (split_on_tuesday, local(BERLIN, 2026, 1, 5, 13), True, None, local(BERLIN, 2026, 1, 5, 17),
     date(2026, 1, 5)),
    # an override crossing midnight: Tuesday's 06-14 is replaced by 22-06, whose tail runs
    # into Wednesday and touches Wednesday's own 06-14 (one stretch, two shift days)
    (night_override_ny, local(NY, 2026, 1, 6, 10), False, local(NY, 2026, 1, 6, 22), None, DAY),
    (night_override_ny, local(NY, 2026, 1, 6, 23), True, None, local(NY, 2026, 1, 7, 14), DAY),
    (night_override_ny, local(NY, 2026, 1, 7, 5), True, None, local(NY, 2026, 1, 7, 14), DAY),
    (night_override_ny, local(NY, 2026, 1, 7, 6), True, None, local(NY, 2026, 1, 7, 14),
     date(2026, 1, 7)),
    (night_override_ny, local(NY, 2026, 1, 7, 14), False, local(NY, 2026, 1, 8, 6), None,
     date(2026, 1, 7)),
    # an override on a day off: the day off wins; the day before's night shift still ends
    (override_on_day_off, local(NY, 2026, 1, 7, 11), False, local(NY, 2026, 1, 8, 22), None,
     date(2026, 1, 7)),
    (override_on_day_off, local(NY, 2026, 1, 7, 3), True, None, local(NY, 2026, 1, 7, 6), DAY),
    # a dated shift counts on a weekday not worked; an empty override closes a worked day
    (saturday_on_monday_off, local(BERLIN, 2026, 1, 9, 19), False, local(BERLIN, 2026, 1, 10, 10),
     None, date(2026, 1, 9)),
    (saturday_on_monday_off, local(BERLIN, 2026, 1, 10, 15), False,
     local(BERLIN, 2026, 1, 13, 9), None, date(2026, 1, 10)),
]


@pytest.mark.parametrize(("schedule", "at", "open_", "opening", "end", "day"),
                         CASES + OVERRIDE_CASES)
def test_shift_window_table(schedule, at, open_, opening, end, day):
    assert is_open(schedule=schedule, at=at) is open_
    assert next_opening(schedule=schedule, at=at) == (at if open_ else opening)
    assert current_window_end(schedule=schedule, at=at) == end
    assert shift_day(schedule=schedule, at=at) == day


def test_no_opening_when_every_day_is_off():
    at = utc(2026, 1, 5)
    never = Schedule(tz=NY, windows=SPLIT, weekdays=frozenset())
    assert next_opening(schedule=never, at=at) is None
    off = frozenset(date(2026, 1, 1) + timedelta(days=k) for k in range(30))
    schedule = Schedule(tz=NY, windows=SPLIT, days_off=off)
    assert next_opening(schedule=schedule, at=at, horizon_days=10) is None
    assert next_opening(schedule=schedule, at=at) == local(NY, 2026, 1, 31, 9)


def test_overrides_keep_the_schedule_frozen_and_hashable():
    windows = (Window(start=time(9), end=time(12)),)
    a = Schedule(tz=NY, windows=SPLIT, overrides={date(2026, 1, 7): windows, DAY: []})
    b = Schedule(tz=NY, windows=SPLIT, overrides=((DAY, ()), (date(2026, 1, 7), windows)))
    assert a == b and hash(a) == hash(b)
    assert a.overrides == ((DAY, ()), (date(2026, 1, 7), windows))
    assert a != Schedule(tz=NY, windows=SPLIT)
    assert windows_on(schedule=a, day=DAY) == ()
    assert windows_on(schedule=a, day=date(2026, 1, 7)) == windows
    assert windows_on(schedule=a, day=date(2026, 1, 8)) == SPLIT
    with pytest.raises(AttributeError):
        a.overrides = ()  # type: ignore[misc]
    with pytest.raises(ValueError, match="dates"):
        Schedule(tz=NY, windows=SPLIT, overrides={datetime(2026, 1, 6): windows})
    with pytest.raises(ValueError, match="twice"):
        Schedule(tz=NY, windows=SPLIT, overrides=((DAY, windows), (DAY, ())))
    with pytest.raises(ValueError, match="Windows"):
        Schedule(tz=NY, windows=SPLIT, overrides={DAY: ((time(9), time(12)),)})


def test_only_overrides_can_still_open():
    schedule = Schedule(tz=NY, windows=(), overrides={DAY: SPLIT})
    assert next_opening(schedule=schedule, at=utc(2026, 1, 1)) == local(NY, 2026, 1, 6, 9)
    assert next_opening(schedule=schedule, at=local(NY, 2026, 1, 6, 18)) is None
    assert next_opening(schedule=Schedule(tz=NY, windows=(), overrides={DAY: ()}),
                        at=utc(2026, 1, 1)) is None


def test_touching_windows_are_one_stretch():
    schedule = Schedule(tz=BERLIN, windows=(Window(start=time(9), end=time(12)),
                                            Window(start=time(12), end=time(15))))
    at = local(BERLIN, 2026, 1, 5, 10)
    assert current_window_end(schedule=schedule, at=at) == local(BERLIN, 2026, 1, 5, 15)


@st.composite
def schedules_and_instants(draw):
    tz = draw(st.sampled_from(ZONES))
    base = draw(days)
    near = [base + timedelta(days=k) for k in range(-3, 11)]
    schedule = Schedule(
        tz=tz,
        windows=tuple(draw(st.lists(windows, min_size=1, max_size=3))),
        days_off=frozenset(draw(st.lists(st.sampled_from(near), max_size=6))),
        weekdays=frozenset(draw(st.lists(st.integers(0, 6), max_size=7))),
        overrides=draw(st.dictionaries(
            st.sampled_from(near), st.lists(windows, max_size=3).map(tuple), max_size=5
        )),
    )
    at = datetime.combine(base, time(0), UTC) + timedelta(
        minutes=draw(st.integers(-2 * 1440, 3 * 1440)), seconds=draw(st.sampled_from([0, 30]))
    )
    return schedule, at


FRACTIONS = [k / 97 for k in range(97)]


@settings(max_examples=200, deadline=None)
@given(case=schedules_and_instants())
def test_next_opening_is_open_and_skips_no_earlier_opening(case):
    schedule, at = case
    got = next_opening(schedule=schedule, at=at)
    if got is None:
        # Only dated overrides could still open, and none of them does after `at`.
        assert not schedule.weekdays
        assert not is_open(schedule=schedule, at=at)
        later = shift_intervals(schedule=schedule, around=at, days_after=20)
        assert all(opens <= at for opens, _, _ in later)
        return
    assert got >= at
    assert is_open(schedule=schedule, at=got)
    if got == at:
        return
    assert not is_open(schedule=schedule, at=at)
    assert not is_open(schedule=schedule, at=got - timedelta(microseconds=1))
    assert all(not is_open(schedule=schedule, at=at + (got - at) * f) for f in FRACTIONS)
    span = (got.astimezone(ZoneInfo(schedule.tz)).date() - at.date()).days + 2
    for opens, _, _ in shift_intervals(schedule=schedule, around=at, days_after=span):
        assert not at < opens < got


@settings(max_examples=200, deadline=None)
@given(case=schedules_and_instants())
def test_window_end_closes_an_unbroken_open_stretch(case):
    schedule, at = case
    end = current_window_end(schedule=schedule, at=at)
    if not is_open(schedule=schedule, at=at):
        assert end is None
        return
    assert end is not None and end > at
    assert not is_open(schedule=schedule, at=end)
    assert all(is_open(schedule=schedule, at=at + (end - at) * f) for f in FRACTIONS)
    assert is_open(schedule=schedule, at=end - timedelta(microseconds=1))


@settings(max_examples=200, deadline=None)
@given(case=schedules_and_instants())
def test_shift_day_is_the_local_date_or_a_running_shifts_start(case):
    schedule, at = case
    day = shift_day(schedule=schedule, at=at)
    local_day = at.astimezone(ZoneInfo(schedule.tz)).date()
    if is_open(schedule=schedule, at=at):
        assert day in {local_day, local_day - timedelta(days=1)}
        assert day not in schedule.days_off and windows_on(schedule=schedule, day=day)
    else:
        assert day == local_day


@settings(max_examples=200, deadline=None)
@given(case=schedules_and_instants())
def test_an_override_replaces_its_own_day_and_nothing_else(case):
    schedule, at = case
    plain = Schedule(tz=schedule.tz, windows=schedule.windows, days_off=schedule.days_off,
                     weekdays=schedule.weekdays)
    overridden = dict(schedule.overrides)

    def by_day(s: Schedule) -> dict[date, list]:
        out: dict[date, list] = {}
        for opens, closes, day in shift_intervals(schedule=s, around=at, days_after=10):
            out.setdefault(day, []).append((opens, closes))
        return out

    got, without = by_day(schedule), by_day(plain)
    for day in set(got) | set(without) | set(overridden):
        if day in schedule.days_off:
            assert day not in got
        elif day in overridden:
            only = Schedule(tz=schedule.tz, windows=overridden[day])
            assert got.get(day) == by_day(only).get(day)
        else:
            assert got.get(day) == without.get(day)


def test_warmup_from_10_by_10_reaches_100_on_day_ten_and_stays():
    kwargs = {"max_capacity": 100, "warmup_start": 10, "warmup_step": 10}
    by_index = [allowance_for_day(active_day_index=i, **kwargs) for i in range(12)]
    assert by_index == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 100, 100]
    stored, chain = None, []
    for _ in range(12):
        stored = next_allowance(previous=stored, **kwargs)
        chain.append(stored)
    assert chain == by_index


@pytest.mark.parametrize(
    ("max_capacity", "start", "step", "index", "expected"),
    [
        (100, None, 10, 0, 100),  # no warm-up: full capacity at once
        (0, 10, 10, 5, 0),  # 0 means the activity is off
        (50, 80, 10, 0, 50),  # a start above the max is capped
        (100, 5, 0, 30, 5),  # step 0 holds the start
        (100, 0, 25, 2, 50),
    ],
)
def test_allowance_for_day_table(max_capacity, start, step, index, expected):
    got = allowance_for_day(
        max_capacity=max_capacity, warmup_start=start, warmup_step=step, active_day_index=index
    )
    assert got == expected


@pytest.mark.parametrize(
    ("previous", "max_capacity", "start", "expected"),
    [
        (None, 100, 10, 10),
        (None, 100, None, 100),
        (30, 100, 10, 40),
        (95, 100, 10, 100),
        (50, 40, 10, 40),  # max lowered below the stored allowance: the max wins
        (50, 0, 10, 0),
        (50, 100, None, 100),  # warm-up switched off
    ],
)
def test_next_allowance_table(previous, max_capacity, start, expected):
    got = next_allowance(
        previous=previous, max_capacity=max_capacity, warmup_start=start, warmup_step=10
    )
    assert got == expected


@settings(max_examples=200, deadline=None)
@given(
    max_capacity=st.integers(0, 1000),
    start=st.none() | st.integers(0, 1000),
    step=st.integers(0, 200),
    active_days=st.integers(1, 60),
)
def test_allowance_never_decreases_while_active_and_never_exceeds_max(
    max_capacity, start, step, active_days
):
    kwargs = {"max_capacity": max_capacity, "warmup_start": start, "warmup_step": step}
    stored, chain = None, []
    for _ in range(active_days):
        stored = next_allowance(previous=stored, **kwargs)
        chain.append(stored)
    assert all(0 <= a <= max_capacity for a in chain)
    assert chain == sorted(chain)
    assert chain == [allowance_for_day(active_day_index=i, **kwargs) for i in range(active_days)]


@settings(max_examples=200, deadline=None)
@given(allowance=st.integers(-10, 1000), used=st.integers(0, 2000))
def test_remaining_is_never_negative(allowance, used):
    left = remaining(allowance=allowance, used=used)
    assert left >= 0
    assert left == max(0, allowance - used)


@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        (
            {"activity_cap": 5, "warmup": 3, "channel_hourly": None, "campaign_cap": 9},
            ("warmup", 3),
        ),
        ({"channel_hourly": 2, "channel_daily": 2}, ("channel_daily", 2)),  # tie: longer-lived
        ({"warmup": 0, "campaign_cap": 0, "activity_cap": 0}, ("campaign_cap", 0)),
        ({"warmup": -4, "activity_cap": 1}, ("warmup", 0)),
        ({"zeta": 1, "alpha": 1}, ("alpha", 1)),
        ({"channel_hourly": None, "warmup": None}, ("none", UNLIMITED)),
        ({}, ("none", UNLIMITED)),
    ],
)
def test_binding_limit_table(limits, expected):
    assert binding_limit(limits=limits) == expected


NAMES = ["campaign_cap", "activity_cap", "warmup", "channel_daily", "channel_hourly", "other"]


@settings(max_examples=200, deadline=None)
@given(limits=st.dictionaries(st.sampled_from(NAMES), st.none() | st.integers(0, 20)))
def test_binding_limit_is_the_smallest_set_limit(limits):
    name, value = binding_limit(limits=limits)
    values = [v for v in limits.values() if v is not None]
    if not values:
        assert (name, value) == ("none", UNLIMITED)
    else:
        assert value == min(values) == limits[name]


@pytest.mark.parametrize(
    ("last_sent", "now", "rand", "expected"),
    [
        (None, utc(2026, 1, 1), 0.5, 0.0),  # first send goes at once
        (utc(2026, 1, 1), utc(2026, 1, 1, 0, 0, 10), 0.0, 20.0),
        (utc(2026, 1, 1), utc(2026, 1, 1, 0, 0, 10), 0.5, 25.0),
        (utc(2026, 1, 1), utc(2026, 1, 1, 0, 1), 0.9, 0.0),
    ],
)
def test_pacing_delay_table(last_sent, now, rand, expected):
    got = pacing_delay(
        last_sent_at=last_sent, now=now, min_gap_seconds=30, jitter_seconds=10, rand=rand
    )
    assert got == pytest.approx(expected)


def test_pacing_rejects_rand_outside_unit_interval():
    with pytest.raises(ValueError):
        pacing_delay(last_sent_at=None, now=utc(2026, 1, 1), min_gap_seconds=1,
                     jitter_seconds=1, rand=1.0)


@settings(max_examples=200, deadline=None)
@given(
    elapsed=st.floats(0, 600),
    gap=st.floats(0, 120),
    jitter=st.floats(0, 60),
    rand=st.floats(0, 1, exclude_max=True),
)
def test_pacing_keeps_the_minimum_gap_and_bounded_wait(elapsed, gap, jitter, rand):
    now = utc(2026, 1, 1, 12)
    last = now - timedelta(seconds=elapsed)
    wait = pacing_delay(
        last_sent_at=last, now=now, min_gap_seconds=gap, jitter_seconds=jitter, rand=rand
    )
    assert 0 <= wait <= gap + jitter
    assert (now - last).total_seconds() + wait >= gap - 1e-6
