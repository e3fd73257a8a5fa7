"""Pure planning rules: kept / narrowed / skipped windows, interleaving reps, staggering by capacity."""
from collections import Counter
from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.rules import (
    KEPT,
    NARROWED,
    NO_OVERLAP,
    SKIPPED,
    clip_kind,
    interleave,
    next_interval,
    stagger_by_capacity,
)
from salesreps.rules import Window

T0 = datetime(2026, 6, 1, tzinfo=UTC)


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


@pytest.mark.parametrize("tz, allowed, kind", [
    ("Asia/Tokyo", Window(time(8), time(20)), KEPT),
    ("Asia/Tokyo", None, KEPT),
    ("America/Los_Angeles", Window(time(12), time(20)), NARROWED),
    ("Europe/Moscow", Window(time(18), time(22)), SKIPPED),
])
def test_clip_kind(tz, allowed, kind):
    got, intervals, reason = clip_kind(window_start=datetime(2026, 3, 8, 9), window_end=datetime(2026, 3, 8, 17), tz=tz,
                                       allowed=allowed)
    assert got == kind
    assert (reason == NO_OVERLAP) is (kind == SKIPPED) and bool(intervals) is (kind != SKIPPED)


def test_next_interval_starts_no_earlier_than_after():
    intervals = [(h(1), h(2)), (h(5), h(8))]
    assert next_interval(intervals, after=h(0)) == (h(1), h(2))
    assert next_interval(intervals, after=h(1.5)) == (h(1.5), h(2))
    assert next_interval(intervals, after=h(2)) == (h(5), h(8))
    assert next_interval(intervals, after=h(8)) is None


@settings(max_examples=300, deadline=None)
@given(counts=st.dictionaries(st.integers(1, 50), st.integers(0, 200), max_size=6))
def test_interleave_keeps_counts_and_spreads_each_rep_evenly(counts):
    order = interleave(counts)
    assert Counter(order) == +Counter(counts)
    total = len(order)
    for rep, count in counts.items():
        # After any prefix, a rep has had its proportional share, give or take 1 + (reps in play) / 2:
        # place k of a rep sits at (k + 1/2) / count, so each rep is at most half a place out.
        seen, slack = 0, 1 + sum(1 for c in counts.values() if c) / 2
        for i, got in enumerate(order, start=1):
            seen += got == rep
            assert abs(seen - count * i / total) <= slack


def test_interleave_alternates_in_proportion():
    assert interleave({1: 2, 2: 1}) == [1, 2, 1]
    assert interleave({7: 1, 3: 1}) == [3, 7]


def test_stagger_fills_each_day_in_turn():
    days = [([(h(9 + 24 * d), h(17 + 24 * d))], 2) for d in range(3)]
    windows = [(h(0), h(24 * 5))] * 5
    got = stagger_by_capacity(windows=windows, days=days)
    # The first day's share falls due at the window's start (dispatch waits for the shift itself).
    assert got == [(h(0), 0), (h(0), 0), (h(33), 1), (h(33), 1), (h(57), 2)]
    assert stagger_by_capacity(windows=windows * 2, days=days)[6:] == [None] * 4  # beyond capacity: dispatch decides


def test_stagger_skips_days_whose_shift_misses_the_window():
    days = [([(h(20), h(28))], 5), ([(h(44), h(52))], 5)]
    assert stagger_by_capacity(windows=[(h(5), h(7))], days=days) == [None]  # no shift meets it
    assert stagger_by_capacity(windows=[(h(26), h(50))], days=days) == [(h(26), 0)]
    assert stagger_by_capacity(windows=[(h(30), h(50))], days=days) == [(h(30), 1)]  # the first day that can serve it
    full = [([(h(20), h(28))], 0), ([(h(44), h(52))], 5)]
    assert stagger_by_capacity(windows=[(h(26), h(50))], days=full) == [(h(44), 1)]  # day 0 is full: wait for day 1


intervals_st = st.integers(0, 200).flatmap(
    lambda start: st.integers(1, 48).map(lambda length: (h(start), h(start + length))))


@settings(max_examples=200, deadline=None)
@given(windows=st.lists(intervals_st, max_size=40), caps=st.lists(st.integers(0, 5), min_size=1, max_size=8),
       shift=st.integers(1, 23))
def test_stagger_never_overbooks_a_day_and_keeps_each_due_inside_its_window(windows, caps, shift):
    days = [([(h(24 * d + 8), h(24 * d + 8 + shift))], cap) for d, cap in enumerate(caps)]
    windows = sorted(windows)
    planned = stagger_by_capacity(windows=windows, days=days)
    used = Counter(p[1] for p in planned if p)
    assert all(used[d] <= cap for d, (_, cap) in enumerate(days))
    for (lo, hi), got in zip(windows, planned, strict=True):
        if got is None:
            continue
        due, day = got
        [(opens, closes)] = days[day][0]
        assert lo <= due < hi and opens < hi and closes > lo  # the day's shift meets the window
        if due != lo:
            assert due == max(lo, opens)  # a later day: due when its shift opens
