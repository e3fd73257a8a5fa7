"""Contact windows in each contact's zone, quiet hours and capacity spreading."""

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.rules import (
    EMPTY_IN_ZONE,
    NO_OVERLAP,
    contact_send_window,
    spread_by_capacity,
)
from inbox.rules import is_quiet, quiet_ends
from salesreps.rules import Window, local_instant
from salesreps.tests.dst import transition_days

NY, BERLIN = "America/New_York", "Europe/Berlin"
ZONES = [NY, BERLIN, "UTC", "Asia/Kolkata", "America/Santiago", "Australia/Lord_Howe"]
OFFICE = Window(start=time(9), end=time(17))
NIGHT = Window(start=time(20), end=time(8))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def wall(*args: int) -> datetime:
    return datetime(*args)


@pytest.mark.parametrize(
    ("start", "end", "tz", "allowed", "expected"),
    [
        # wider than the allowed hours: narrowed to them (EDT, UTC-4)
        (wall(2026, 3, 10, 8), wall(2026, 3, 10, 20), NY, OFFICE,
         [(utc(2026, 3, 10, 13), utc(2026, 3, 10, 21))]),
        # inside them: kept
        (wall(2026, 3, 10, 10), wall(2026, 3, 10, 12), NY, OFFICE,
         [(utc(2026, 3, 10, 14), utc(2026, 3, 10, 16))]),
        # starts earlier only / ends later only
        (wall(2026, 6, 1, 7), wall(2026, 6, 1, 12), BERLIN, OFFICE,
         [(utc(2026, 6, 1, 7), utc(2026, 6, 1, 10))]),
        (wall(2026, 6, 1, 15), wall(2026, 6, 1, 19), BERLIN, OFFICE,
         [(utc(2026, 6, 1, 13), utc(2026, 6, 1, 15))]),
        # no overlap: the contact is skipped with a reason
        (wall(2026, 6, 1, 18), wall(2026, 6, 1, 20), BERLIN, OFFICE, NO_OVERLAP),
        # clipped per local day over a two-day window
        (wall(2026, 6, 1), wall(2026, 6, 3), BERLIN, OFFICE,
         [(utc(2026, 6, 1, 7), utc(2026, 6, 1, 15)), (utc(2026, 6, 2, 7), utc(2026, 6, 2, 15))]),
        # allowed hours crossing midnight
        (wall(2026, 6, 1, 6), wall(2026, 6, 1, 22), BERLIN, NIGHT,
         [(utc(2026, 6, 1, 4), utc(2026, 6, 1, 6)), (utc(2026, 6, 1, 18), utc(2026, 6, 1, 20))]),
        (wall(2026, 6, 1, 21), wall(2026, 6, 2, 7), BERLIN, NIGHT,
         [(utc(2026, 6, 1, 19), utc(2026, 6, 2, 5))]),
        # no allowed hours: the whole window in the contact's zone
        (wall(2026, 6, 1, 9), wall(2026, 6, 1, 10), "Asia/Kolkata", None,
         [(utc(2026, 6, 1, 3, 30), utc(2026, 6, 1, 4, 30))]),
        # spring forward: a start in the gap moves to its end; a window inside it is empty
        (wall(2026, 3, 8, 2, 30), wall(2026, 3, 8, 5), NY, None,
         [(utc(2026, 3, 8, 7), utc(2026, 3, 8, 9))]),
        (wall(2026, 3, 8, 2, 10), wall(2026, 3, 8, 2, 50), NY, None, EMPTY_IN_ZONE),
        (wall(2026, 3, 29, 1), wall(2026, 3, 29, 12), BERLIN, Window(time(2, 15), time(4)),
         [(utc(2026, 3, 29, 1), utc(2026, 3, 29, 2))]),
        # fall back: 01:00 EDT to 03:00 EST is three hours
        (wall(2026, 11, 1, 1), wall(2026, 11, 1, 3), NY, None,
         [(utc(2026, 11, 1, 5), utc(2026, 11, 1, 8))]),
        (wall(2026, 10, 25), wall(2026, 10, 25, 12), BERLIN, Window(time(2), time(2, 30)),
         [(utc(2026, 10, 25, 0), utc(2026, 10, 25, 0, 30))]),
        # 02:30-02:00 hours touch across the gap (both ends become 03:00 EDT): one interval
        (wall(2026, 3, 7), wall(2026, 3, 9), NY, Window(time(2, 30), time(2)),
         [(utc(2026, 3, 7, 5), utc(2026, 3, 7, 7)), (utc(2026, 3, 7, 7, 30), utc(2026, 3, 9, 4))]),
    ],
)
def test_contact_send_window_table(start, end, tz, allowed, expected):
    got = contact_send_window(window_start=start, window_end=end, tz=tz, allowed=allowed)
    assert got == expected


def test_same_campaign_window_lands_at_each_contacts_own_wall_clock():
    kwargs = {"window_start": wall(2026, 6, 1, 10), "window_end": wall(2026, 6, 1, 11)}
    ny = contact_send_window(tz=NY, allowed=None, **kwargs)
    berlin = contact_send_window(tz=BERLIN, allowed=None, **kwargs)
    assert ny == [(utc(2026, 6, 1, 14), utc(2026, 6, 1, 15))]
    assert berlin == [(utc(2026, 6, 1, 8), utc(2026, 6, 1, 9))]


def test_contact_send_window_rejects_bad_input():
    with pytest.raises(ValueError):
        contact_send_window(window_start=wall(2026, 6, 2), window_end=wall(2026, 6, 1), tz=NY,
                            allowed=None)
    with pytest.raises(ValueError):
        contact_send_window(window_start=utc(2026, 6, 1), window_end=utc(2026, 6, 2), tz=NY,
                            allowed=None)
    with pytest.raises(ValueError, match="Mars/Olympus"):
        contact_send_window(window_start=wall(2026, 6, 1), window_end=wall(2026, 6, 2),
                            tz="Mars/Olympus", allowed=None)
    with pytest.raises(ValueError):
        Window(start=time(9), end=time(9))


def _transition_days() -> list[date]:
    return transition_days(ZONES)


days = st.one_of(
    st.sampled_from(_transition_days()), st.dates(date(2025, 1, 1), date(2027, 12, 31))
)
quarter_times = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
hours = st.tuples(quarter_times, quarter_times).filter(lambda h: h[0] != h[1]).map(
    lambda h: Window(start=h[0], end=h[1])
)
SAMPLES = [k / 193 for k in range(193)]


@settings(max_examples=200, deadline=None)
@given(
    tz=st.sampled_from(ZONES),
    day=days,
    start=quarter_times,
    minutes=st.integers(1, 3 * 1440),
    allowed=st.none() | hours,
)
def test_contact_windows_lie_inside_campaign_window_and_allowed_hours(
    tz, day, start, minutes, allowed
):
    window_start = datetime.combine(day, start)
    window_end = window_start + timedelta(minutes=minutes)
    got = contact_send_window(
        window_start=window_start, window_end=window_end, tz=tz, allowed=allowed
    )
    zone = ZoneInfo(tz)
    opens = local_instant(day=window_start.date(), at=window_start.time(), tz=tz)
    closes = local_instant(day=window_end.date(), at=window_end.time(), tz=tz)
    if isinstance(got, str):
        assert got in {NO_OVERLAP, EMPTY_IN_ZONE}
        got = []
    assert all(earlier[1] < later[0] for earlier, later in pairwise(got))
    for lo, hi in got:
        assert opens <= lo < hi <= closes
        assert lo.tzinfo is UTC and hi.tzinfo is UTC
        if allowed is not None:
            # Allowed hours run from the first occurrence of their start, so the second pass
            # of a repeated hour may show an earlier wall time (fold=1) and still be inside.
            for f in SAMPLES:
                local = (lo + (hi - lo) * f).astimezone(zone)
                assert allowed.contains(local.time()) or local.fold
    if opens >= closes:
        return
    # Nothing allowed is lost, except the second pass of a repeated hour (first one wins).
    for f in SAMPLES:
        t = opens + (closes - opens) * f
        local = t.astimezone(zone)
        if (allowed is None or allowed.contains(local.time())) and not local.fold:
            assert any(lo <= t < hi for lo, hi in got)


@pytest.mark.parametrize(
    ("at", "tz", "quiet", "expected_quiet", "ends"),
    [
        (utc(2026, 6, 1, 22), BERLIN, Window(time(22), time(8)), True, utc(2026, 6, 2, 6)),
        (utc(2026, 6, 2, 5), BERLIN, Window(time(22), time(8)), True, utc(2026, 6, 2, 6)),
        (utc(2026, 6, 2, 6), BERLIN, Window(time(22), time(8)), False, utc(2026, 6, 2, 6)),
        (utc(2026, 6, 2, 6), BERLIN, None, False, utc(2026, 6, 2, 6)),
        (utc(2026, 6, 1, 14), NY, Window(time(7), time(9)), False, utc(2026, 6, 1, 14)),
        # quiet until 02:30 on spring-forward day ends at 03:00 EDT
        (utc(2026, 3, 8, 6, 30), NY, Window(time(0), time(2, 30)), True, utc(2026, 3, 8, 7)),
        # fall back: quiet until 01:30 ends on the pass we are in
        (utc(2026, 11, 1, 5, 15), NY, Window(time(0), time(1, 30)), True,
         utc(2026, 11, 1, 5, 30)),
        (utc(2026, 11, 1, 6, 15), NY, Window(time(0), time(1, 30)), True,
         utc(2026, 11, 1, 6, 30)),
    ],
)
def test_quiet_hours_table(at, tz, quiet, expected_quiet, ends):
    assert is_quiet(at=at, tz=tz, quiet=quiet) is expected_quiet
    assert quiet_ends(at=at, tz=tz, quiet=quiet) == ends


@settings(max_examples=200, deadline=None)
@given(
    tz=st.sampled_from(ZONES),
    day=days,
    minute=st.integers(0, 1439),
    quiet=st.none() | hours,
)
def test_quiet_ends_at_the_first_instant_outside_quiet_hours(tz, day, minute, quiet):
    at = datetime.combine(day, time(0), UTC) + timedelta(minutes=minute)
    end = quiet_ends(at=at, tz=tz, quiet=quiet)
    assert end >= at and not is_quiet(at=end, tz=tz, quiet=quiet)
    if end == at:
        return
    assert is_quiet(at=end - timedelta(microseconds=1), tz=tz, quiet=quiet)
    assert all(is_quiet(at=at + (end - at) * f, tz=tz, quiet=quiet) for f in SAMPLES)


@pytest.mark.parametrize(
    ("recipients", "capacities", "expected"),
    [
        (10, {1: 5, 2: 5}, {1: 5, 2: 5}),
        (10, {1: 1, 2: 1, 3: 1}, {1: 4, 2: 3, 3: 3}),  # equal remainders: lowest id
        (10, {1: 1, 2: 2}, {1: 3, 2: 7}),  # 3.33 / 6.67: the larger remainder wins
        (7, {1: 0, 2: 3}, {1: 0, 2: 7}),  # beyond capacity still sums to N
        (3, {1: 10, 2: 20, 3: 0}, {1: 1, 2: 2, 3: 0}),
        (2, {1: 1, 2: 3}, {1: 0, 2: 2}),  # 0.5 / 1.5 tie: the larger capacity wins
        (0, {1: 0, 2: 0}, {1: 0, 2: 0}),
    ],
)
def test_spread_by_capacity_table(recipients, capacities, expected):
    assert spread_by_capacity(recipients=recipients, capacities=capacities) == expected


def test_spread_without_capacity_refuses():
    for capacities in [{1: 0, 2: 0}, {}]:
        with pytest.raises(ValueError, match="no capacity"):
            spread_by_capacity(recipients=3, capacities=capacities)


@settings(max_examples=200, deadline=None)
@given(
    recipients=st.integers(0, 5000),
    capacities=st.dictionaries(st.integers(1, 10_000), st.integers(0, 500), min_size=1),
)
def test_spread_sums_to_n_within_proportional_bounds(recipients, capacities):
    total = sum(capacities.values())
    if total == 0 and recipients:
        with pytest.raises(ValueError):
            spread_by_capacity(recipients=recipients, capacities=capacities)
        return
    got = spread_by_capacity(recipients=recipients, capacities=capacities)
    assert got.keys() == capacities.keys()
    assert sum(got.values()) == recipients
    for rep, cap in capacities.items():
        quota_floor, fraction = divmod(recipients * cap, total) if total else (0, 0)
        assert quota_floor <= got[rep] <= quota_floor + (1 if fraction else 0)
        if cap == 0:
            assert got[rep] == 0


def test_quiet_end_inside_a_spring_forward_gap_moves_to_the_next_day():
    # Santiago springs forward at midnight: on 2026-09-06 00:00-01:00 does not exist, so the only
    # free quarter hour of 00:15-00:00 quiet hours vanishes and quiet runs on to the 7th.
    quiet = Window(start=time(0, 15), end=time(0))
    at = utc(2026, 9, 5, 4, 15)
    assert quiet_ends(at=at, tz="America/Santiago", quiet=quiet) == utc(2026, 9, 7, 3)
