"""The weekly schedule in the pure rules: a Lisbon split shift, a Thursday night shift either side of
both clock changes, weekends, a holiday range and team holidays, pinned by tables and properties.
No database: build_schedule only reads the rows it is handed."""

import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salesreps.rules import (
    Schedule,
    Window,
    current_window_end,
    days_in_ranges,
    is_open,
    local_instant,
    next_opening,
    open_windows,
    public_holidays,
    shift_day,
    shift_intervals,
    validate_country,
    windows_on,
)
from salesreps.selectors import ScheduleRows, build_schedule
from salesreps.tests.dst import transition_days

LISBON, NY, SYDNEY = "Europe/Lisbon", "America/New_York", "Australia/Sydney"
ZONES = [LISBON, NY, SYDNEY, "UTC", "America/Santiago", "Australia/Lord_Howe"]
MORNING, AFTERNOON, NIGHT = Window(time(9), time(13)), Window(time(14), time(18)), Window(time(22), time(6))
SPLIT = (MORNING, AFTERNOON)
# Monday–Friday 09:00–13:00 and 14:00–18:00, Thursday also 22:00–06:00, weekends off.
WEEK = (SPLIT, SPLIT, SPLIT, SPLIT + (NIGHT,), SPLIT, (), ())


def lisbon(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(LISBON), fold=fold).astimezone(UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


week = Schedule(tz=LISBON, windows=(), week=WEEK)
# Tuesday 27 October off (one day), and time off Monday 2 – Friday 6 November.
HOLIDAYS = days_in_ranges([(date(2026, 10, 27), date(2026, 10, 27)), (date(2026, 11, 2), date(2026, 11, 6))],
                          first=date(2026, 10, 1), last=date(2026, 12, 31))
week_with_time_off = Schedule(tz=LISBON, windows=(), week=WEEK, days_off=HOLIDAYS)
# A Saturday night shift: its night holds the clock change (last Sunday of March / October, Lisbon).
saturday_night = Schedule(tz=LISBON, windows=(), week=((), (), (), (), (), (NIGHT,), ()))

# (schedule, at, open?, next opening, window end, shift day)
CASES = [
    # the split shift, a week before the October change (WEST, UTC+1)
    (week, lisbon(2026, 10, 19, 10), True, None, lisbon(2026, 10, 19, 13), date(2026, 10, 19)),
    (week, lisbon(2026, 10, 19, 13), False, lisbon(2026, 10, 19, 14), None, date(2026, 10, 19)),
    (week, lisbon(2026, 10, 19, 13, 30), False, utc(2026, 10, 19, 13), None, date(2026, 10, 19)),
    (week, lisbon(2026, 10, 19, 17, 59), True, None, lisbon(2026, 10, 19, 18), date(2026, 10, 19)),
    (week, lisbon(2026, 10, 19, 8, 59), False, lisbon(2026, 10, 19, 9), None, date(2026, 10, 19)),
    # Thursday night 22:00 WEST (21:00 UTC) to Friday 06:00 belongs to Thursday
    (week, lisbon(2026, 10, 22, 18, 30), False, utc(2026, 10, 22, 21), None, date(2026, 10, 22)),
    (week, lisbon(2026, 10, 22, 23), True, None, utc(2026, 10, 23, 5), date(2026, 10, 22)),
    (week, lisbon(2026, 10, 23, 5, 59), True, None, lisbon(2026, 10, 23, 6), date(2026, 10, 22)),
    (week, lisbon(2026, 10, 23, 6), False, lisbon(2026, 10, 23, 9), None, date(2026, 10, 23)),
    # the weekend holding the change: Friday evening and Saturday wait for Monday 09:00 WET (09:00 UTC)
    (week, lisbon(2026, 10, 23, 18, 30), False, utc(2026, 10, 26, 9), None, date(2026, 10, 23)),
    (week, lisbon(2026, 10, 24, 12), False, utc(2026, 10, 26, 9), None, date(2026, 10, 24)),
    (week, utc(2026, 10, 25, 1, 30), False, utc(2026, 10, 26, 9), None, date(2026, 10, 25)),  # 01:30 WET, 2nd pass
    # the Thursday after it: 22:00 WET is 22:00 UTC, still 8 hours
    (week, lisbon(2026, 10, 29, 21), False, utc(2026, 10, 29, 22), None, date(2026, 10, 29)),
    (week, utc(2026, 10, 30, 5, 59), True, None, utc(2026, 10, 30, 6), date(2026, 10, 29)),
    # around the March change (Sunday 29 March, 01:00 WET → 02:00 WEST)
    (week, lisbon(2026, 3, 26, 23), True, None, utc(2026, 3, 27, 6), date(2026, 3, 26)),
    (week, lisbon(2026, 3, 27, 19), False, utc(2026, 3, 30, 8), None, date(2026, 3, 27)),  # Monday 09:00 WEST
    (week, lisbon(2026, 4, 2, 22), True, None, utc(2026, 4, 3, 5), date(2026, 4, 2)),
    # the night holding the change: 9 hours in October, 7 in March
    (saturday_night, lisbon(2026, 10, 24, 23), True, None, utc(2026, 10, 25, 6), date(2026, 10, 24)),
    (saturday_night, utc(2026, 10, 25, 0, 30), True, None, utc(2026, 10, 25, 6), date(2026, 10, 24)),  # 01:30 WEST
    (saturday_night, utc(2026, 10, 25, 1, 30), True, None, utc(2026, 10, 25, 6), date(2026, 10, 24)),  # 01:30 WET
    (saturday_night, utc(2026, 10, 25, 6), False, lisbon(2026, 10, 31, 22), None, date(2026, 10, 25)),
    (saturday_night, lisbon(2026, 3, 28, 21), False, utc(2026, 3, 28, 22), None, date(2026, 3, 28)),
    (saturday_night, lisbon(2026, 3, 29, 3), True, None, utc(2026, 3, 29, 5), date(2026, 3, 28)),
    # a day off and a holiday range: Monday evening waits for Wednesday; the Friday before the range
    # waits for the Monday after it; the Thursday night before the range still runs
    (week_with_time_off, lisbon(2026, 10, 26, 18, 30), False, lisbon(2026, 10, 28, 9), None, date(2026, 10, 26)),
    (week_with_time_off, lisbon(2026, 10, 27, 10), False, lisbon(2026, 10, 28, 9), None, date(2026, 10, 27)),
    (week_with_time_off, lisbon(2026, 10, 30, 18, 30), False, lisbon(2026, 11, 9, 9), None, date(2026, 10, 30)),
    (week_with_time_off, lisbon(2026, 10, 29, 23), True, None, lisbon(2026, 10, 30, 6), date(2026, 10, 29)),
    # time off on a Thursday: its night shift does not start either
    (week_with_time_off, lisbon(2026, 11, 5, 22, 30), False, lisbon(2026, 11, 9, 9), None, date(2026, 11, 5)),
]


@pytest.mark.parametrize(("schedule", "at", "open_", "opening", "end", "day"), CASES)
def test_weekly_schedule_table(schedule, at, open_, opening, end, day):
    assert is_open(schedule=schedule, at=at) is open_
    assert next_opening(schedule=schedule, at=at) == (at if open_ else opening)
    assert current_window_end(schedule=schedule, at=at) == end
    assert shift_day(schedule=schedule, at=at) == day


def test_windows_of_a_date_follow_its_weekday():
    assert windows_on(schedule=week, day=date(2026, 10, 19)) == SPLIT  # Monday
    assert windows_on(schedule=week, day=date(2026, 10, 22)) == SPLIT + (NIGHT,)  # Thursday
    assert windows_on(schedule=week, day=date(2026, 10, 24)) == ()  # Saturday
    assert windows_on(schedule=week_with_time_off, day=date(2026, 10, 27)) == ()
    assert windows_on(schedule=week_with_time_off, day=date(2026, 10, 28)) == SPLIT


def test_night_shift_hours_across_both_changes():
    def hours(day: date) -> float:
        opens, closes, _ = next(i for i in shift_intervals(schedule=saturday_night, around=lisbon(*day.timetuple()[:3], 12))
                                if i[2] == day)
        return (closes - opens).total_seconds() / 3600

    assert (hours(date(2026, 10, 17)), hours(date(2026, 10, 24)), hours(date(2026, 10, 31))) == (8, 9, 8)
    assert (hours(date(2026, 3, 21)), hours(date(2026, 3, 28)), hours(date(2026, 4, 4))) == (8, 7, 8)


def test_week_keeps_the_schedule_frozen_hashable_and_checked():
    as_lists = Schedule(tz=LISBON, windows=(), week=[list(day) for day in WEEK], days_off={date(2026, 10, 27)})
    assert as_lists == Schedule(tz=LISBON, windows=(), week=WEEK, days_off=frozenset({date(2026, 10, 27)}))
    assert hash(as_lists) == hash(Schedule(tz=LISBON, windows=(), week=WEEK, days_off=frozenset({date(2026, 10, 27)})))
    assert as_lists.week == WEEK and isinstance(as_lists.days_off, frozenset)
    with pytest.raises(AttributeError):
        as_lists.week = None  # type: ignore[misc]
    with pytest.raises(ValueError, match="7 days"):
        Schedule(tz=LISBON, windows=(), week=WEEK[:5])
    with pytest.raises(ValueError, match="Windows"):
        Schedule(tz=LISBON, windows=(), week=((("09:00", "13:00"),),) + ((),) * 6)
    # the old constructor still means every weekday of `weekdays`
    legacy = Schedule(tz=LISBON, windows=SPLIT, weekdays=frozenset(range(5)))
    assert windows_on(schedule=legacy, day=date(2026, 10, 23)) == SPLIT
    assert windows_on(schedule=legacy, day=date(2026, 10, 24)) == ()


def test_an_empty_week_never_opens_but_a_dated_shift_still_does():
    empty = Schedule(tz=LISBON, windows=(), week=((),) * 7)
    assert next_opening(schedule=empty, at=lisbon(2026, 10, 19, 10)) is None
    extra = Schedule(tz=LISBON, windows=(), week=((),) * 7, overrides={date(2026, 10, 24): (MORNING,)})
    assert next_opening(schedule=extra, at=lisbon(2026, 10, 19, 10)) == lisbon(2026, 10, 24, 9)


def test_holiday_ranges_are_expanded_within_the_horizon_only():
    got = days_in_ranges([(date(2026, 12, 20), date(2027, 1, 10)), (date(2020, 1, 1), date(2020, 1, 5))],
                         first=date(2026, 12, 30), last=date(2027, 1, 2))
    assert got == {date(2026, 12, 30), date(2026, 12, 31), date(2027, 1, 1), date(2027, 1, 2)}
    with pytest.raises(ValueError, match="before it starts"):
        days_in_ranges([(date(2026, 12, 5), date(2026, 12, 1))], first=date(2026, 1, 1), last=date(2026, 12, 31))


# --- Team holidays ------------------------------------------------------------------------------

def test_portuguese_public_holidays_of_december_2026():
    got = public_holidays(country="PT", first=date(2026, 12, 1), last=date(2026, 12, 31))
    assert sorted(got) == [date(2026, 12, 1), date(2026, 12, 8), date(2026, 12, 25)]
    assert got[date(2026, 12, 25)] == "Christmas Day"


@pytest.mark.parametrize(("code", "ok"), [("PT", True), ("US", True), ("FR", True), ("XX", False), ("pt", False),
                                          ("PRT", False), ("", False), ("P", False)])
def test_holiday_country_must_be_a_known_alpha_2_code(code, ok):
    if ok:
        assert validate_country(code) == code
    else:
        with pytest.raises(ValueError, match=repr(code).replace("(", r"\(")):
            validate_country(code)


def test_team_holidays_are_days_off_and_the_night_before_still_runs():
    # Christmas 2026 is a Friday: Thursday 24th's night shift runs into it, Friday's hours do not happen.
    rows = ScheduleRows(week={"": [(d, w) for d, day in enumerate(WEEK) for w in day]}, country="PT")
    schedule = build_schedule(tz=LISBON, rows=rows, around=lisbon(2026, 12, 1, 12))
    assert date(2026, 12, 25) in schedule.days_off and date(2026, 12, 8) in schedule.days_off
    assert is_open(schedule=schedule, at=lisbon(2026, 12, 25, 5)) is True
    assert shift_day(schedule=schedule, at=lisbon(2026, 12, 25, 5)) == date(2026, 12, 24)
    assert is_open(schedule=schedule, at=lisbon(2026, 12, 25, 10)) is False
    assert next_opening(schedule=schedule, at=lisbon(2026, 12, 24, 18)) == lisbon(2026, 12, 24, 22)
    assert next_opening(schedule=schedule, at=lisbon(2026, 12, 25, 10)) == lisbon(2026, 12, 28, 9)
    # Tuesday 8 December (Immaculate Conception): Monday evening waits for Wednesday
    assert next_opening(schedule=schedule, at=lisbon(2026, 12, 7, 18, 30)) == lisbon(2026, 12, 9, 9)
    without = build_schedule(tz=LISBON, rows=ScheduleRows(week=rows.week), around=lisbon(2026, 12, 1, 12))
    assert next_opening(schedule=without, at=lisbon(2026, 12, 7, 18, 30)) == lisbon(2026, 12, 8, 9)


# --- Precedence of the rows (build_schedule) --------------------------------------------------------

MONDAY, SATURDAY = date(2026, 11, 16), date(2026, 11, 21)
ROWS = ScheduleRows(
    week={"": [(d, w) for d, day in enumerate(WEEK) for w in day], "like": [(0, Window(time(10), time(12)))]},
    days_off={date(2026, 11, 17)},  # a planned day off (Tuesday)
    overrides={MONDAY + timedelta(days=2): [Window(time(9), time(12))],  # Wednesday: a shorter day
               SATURDAY: [Window(time(10), time(14))]},  # an extra shift on Saturday
    time_off=[(date(2026, 11, 19), date(2026, 11, 19), "dentist")],  # Thursday
)
AROUND = lisbon(2026, 11, 15, 12)


@pytest.mark.parametrize(("activity", "hours", "day", "expected"), [
    ("", None, MONDAY, SPLIT),
    ("", None, date(2026, 11, 17), ()),  # planned day off
    ("", None, date(2026, 11, 18), (Window(time(9), time(12)),)),  # a planned dated shift replaces the week
    ("", None, date(2026, 11, 19), ()),  # time off: the Thursday night shift does not start either
    ("", None, date(2026, 11, 20), SPLIT),
    ("", None, SATURDAY, (Window(time(10), time(14)),)),  # an extra shift on a weekend
    ("", None, date(2026, 11, 22), ()),
    ("like", None, MONDAY, (Window(time(10), time(12)),)),  # the activity's own rows, and only those
    ("like", None, date(2026, 11, 20), ()),
    ("like", None, SATURDAY, (Window(time(10), time(14)),)),  # dated shifts apply to every activity
    ("comment", None, MONDAY, SPLIT),  # no rows of its own: the rows of every activity
    # own hours narrow the rep's shifts (DESIGN): open only where both are
    ("comment", Window(time(8), time(10)), MONDAY, (Window(time(9), time(10)),)),
    ("comment", Window(time(8), time(10)), date(2026, 11, 17), ()),
    ("comment", Window(time(8), time(11)), SATURDAY, (Window(time(10), time(11)),)),
    ("comment", Window(time(8), time(10)), SATURDAY, ()),  # the shift opens when the activity's hours end
    ("comment", Window(time(8), time(10)), date(2026, 11, 22), ()),
    ("comment", Window(time(12), time(15)), MONDAY, (Window(time(12), time(13)), Window(time(14), time(15)))),
])
def test_precedence_of_days_off_dated_shifts_weekly_and_activity_rows(activity, hours, day, expected):
    schedule = build_schedule(tz=LISBON, rows=ROWS, around=AROUND, daily=Window(time(0), time(23, 59)),
                              activity=activity, activity_hours=hours)
    assert open_windows(schedule=schedule, day=day) == expected


def test_without_weekly_windows_the_rep_channel_hours_hold_every_day():
    rows = ScheduleRows(days_off={date(2026, 11, 17)}, overrides={SATURDAY: [Window(time(10), time(11))]})
    daily = Window(time(8), time(20))
    schedule = build_schedule(tz=LISBON, rows=rows, around=AROUND, daily=daily)
    assert [windows_on(schedule=schedule, day=MONDAY + timedelta(days=k)) for k in range(7)] == [
        (daily,), (), (daily,), (daily,), (daily,), (Window(time(10), time(11)),), (daily,)]
    own = build_schedule(tz=LISBON, rows=rows, around=AROUND, daily=daily, activity_hours=Window(time(12), time(13)))
    assert windows_on(schedule=own, day=date(2026, 11, 22)) == (Window(time(12), time(13)),)
    assert windows_on(schedule=own, day=date(2026, 11, 17)) == ()


# --- Properties ---------------------------------------------------------------------------------

TRANSITION_DAYS = transition_days(ZONES)
days = st.one_of(st.sampled_from(TRANSITION_DAYS), st.dates(date(2025, 1, 1), date(2027, 12, 31)))
quarter_times = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
windows = st.tuples(quarter_times, quarter_times).filter(lambda w: w[0] != w[1]).map(lambda w: Window(*w))
weeks = st.lists(st.lists(windows, max_size=3).map(tuple), min_size=7, max_size=7).map(tuple)


@st.composite
def weekly_and_instants(draw):
    tz = draw(st.sampled_from(ZONES))
    base = draw(days)
    near = [base + timedelta(days=k) for k in range(-3, 11)]
    schedule = Schedule(
        tz=tz, windows=(), week=draw(weeks),
        days_off=frozenset(draw(st.lists(st.sampled_from(near), max_size=4))),
        overrides=draw(st.dictionaries(st.sampled_from(near), st.lists(windows, max_size=2).map(tuple), max_size=3)),
    )
    at = datetime.combine(base, time(0), UTC) + timedelta(minutes=draw(st.integers(-2 * 1440, 3 * 1440)),
                                                          seconds=draw(st.sampled_from([0, 30])))
    return schedule, at


def _intervals_of(schedule: Schedule, day: date) -> list[tuple[datetime, datetime]]:
    """The day's windows as instants, straight from windows_on and local_instant."""
    out = []
    for w in windows_on(schedule=schedule, day=day):
        end_day = day + timedelta(days=1) if w.crosses_midnight else day
        out.append((local_instant(day=day, at=w.start, tz=schedule.tz), local_instant(day=end_day, at=w.end, tz=schedule.tz)))
    return out


FRACTIONS = [k / 61 for k in range(61)]


@settings(max_examples=300, deadline=None)
@given(case=weekly_and_instants())
def test_open_exactly_inside_a_window_of_the_shift_day(case):
    schedule, at = case
    day = shift_day(schedule=schedule, at=at)
    inside = any(opens <= at < closes for opens, closes in _intervals_of(schedule, day))
    assert is_open(schedule=schedule, at=at) is inside


@settings(max_examples=300, deadline=None)
@given(case=weekly_and_instants())
def test_away_from_clock_changes_open_means_the_wall_clock_is_inside_a_window(case):
    schedule, at = case
    zone = ZoneInfo(schedule.tz)
    if len({(at + timedelta(hours=h)).astimezone(zone).utcoffset() for h in range(-72, 73, 6)}) > 1:
        return  # a clock change within three days: the table and the property above pin those
    local = at.astimezone(zone)
    wall, today = local.time().replace(tzinfo=None), local.date()
    yesterday = today - timedelta(days=1)
    expected = any((w.start <= wall < w.end) if not w.crosses_midnight else wall >= w.start
                   for w in windows_on(schedule=schedule, day=today)) or any(
        w.crosses_midnight and wall < w.end for w in windows_on(schedule=schedule, day=yesterday))
    assert is_open(schedule=schedule, at=at) is expected


@settings(max_examples=300, deadline=None)
@given(case=weekly_and_instants())
def test_next_opening_is_open_and_nothing_earlier_after_t_is(case):
    schedule, at = case
    got = next_opening(schedule=schedule, at=at)
    if got is None:
        assert not any(schedule.week) and not is_open(schedule=schedule, at=at)
        assert all(opens <= at for opens, _, _ in shift_intervals(schedule=schedule, around=at, days_after=20))
        return
    assert got >= at and is_open(schedule=schedule, at=got)
    if got == at:
        return
    assert not is_open(schedule=schedule, at=got - timedelta(microseconds=1))
    assert all(not is_open(schedule=schedule, at=at + (got - at) * f) for f in FRACTIONS)
    span = (got.astimezone(ZoneInfo(schedule.tz)).date() - at.date()).days + 2
    assert not any(at < opens < got for opens, _, _ in shift_intervals(schedule=schedule, around=at, days_after=span))


@settings(max_examples=200, deadline=None)
@given(case=weekly_and_instants())
def test_window_end_closes_the_open_stretch(case):
    schedule, at = case
    end = current_window_end(schedule=schedule, at=at)
    if not is_open(schedule=schedule, at=at):
        assert end is None
        return
    assert end > at and not is_open(schedule=schedule, at=end)
    assert all(is_open(schedule=schedule, at=at + (end - at) * f) for f in FRACTIONS)


@settings(max_examples=200, deadline=None)
@given(daily=st.lists(windows, min_size=1, max_size=3).map(tuple), weekdays=st.frozensets(st.integers(0, 6)),
       tz=st.sampled_from(ZONES), base=days, minutes=st.integers(0, 14 * 1440))
def test_a_week_of_equal_days_is_the_daily_schedule_on_its_weekdays(daily, weekdays, tz, base, minutes):
    legacy = Schedule(tz=tz, windows=daily, weekdays=weekdays)
    weekly = Schedule(tz=tz, windows=(), week=tuple(daily if d in weekdays else () for d in range(7)))
    at = datetime.combine(base, time(0), UTC) + timedelta(minutes=minutes)
    assert is_open(schedule=weekly, at=at) is is_open(schedule=legacy, at=at)
    assert next_opening(schedule=weekly, at=at) == next_opening(schedule=legacy, at=at)
    assert shift_day(schedule=weekly, at=at) == shift_day(schedule=legacy, at=at)


def test_a_night_shift_narrowed_to_midnight_still_owns_the_minutes_it_shares_with_the_next_days_shift():
    """Found by the property below: Monday 23:30–00:30 and Tuesday 00:00–00:15 in Lisbon, narrowed to
    00:00–00:30, both open at Tuesday 00:00 — the Monday shift, already running, owns it."""
    week = ((Window(time(23, 30), time(0, 30)),), (Window(time(0, 0), time(0, 15)),), (), (), (), (), ())
    schedule = Schedule(tz="Europe/Lisbon", windows=(), week=week)
    narrowed = dataclasses.replace(schedule, narrow=(Window(time(0, 0), time(0, 30)),))
    at = datetime(2025, 9, 22, 23, 0, tzinfo=UTC)  # Tuesday 00:00 in Lisbon (WEST)
    assert shift_day(schedule=schedule, at=at) == shift_day(schedule=narrowed, at=at) == date(2025, 9, 22)


@settings(max_examples=300, deadline=None)
@given(case=weekly_and_instants(), hours=windows)
def test_narrowed_hours_are_open_exactly_where_the_shift_and_the_hours_both_are(case, hours):
    """An activity's own hours narrow the rep's shifts (DESIGN), across DST both ways: open iff the
    shift is open and the every-day hours are; the shift day is the shift's."""
    schedule, at = case
    narrowed = dataclasses.replace(schedule, narrow=(hours,))
    every_day = Schedule(tz=schedule.tz, windows=(hours,))
    assert is_open(schedule=narrowed, at=at) is (is_open(schedule=schedule, at=at) and is_open(schedule=every_day, at=at))
    if is_open(schedule=narrowed, at=at):
        assert shift_day(schedule=narrowed, at=at) == shift_day(schedule=schedule, at=at)
    got = next_opening(schedule=narrowed, at=at)
    if got is not None:
        assert got >= at and is_open(schedule=narrowed, at=got)
        assert all(not is_open(schedule=narrowed, at=at + (got - at) * f) for f in FRACTIONS[:-1] if at + (got - at) * f < got)
