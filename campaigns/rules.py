"""Pure rules for reaching campaign contacts: the campaign window in each contact's zone and
allowed hours and spreading recipients over reps by remaining capacity."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from salesreps.rules import Window, local_instant, validate_tz

NO_OVERLAP = "no_overlap_with_allowed_hours"
# The whole campaign window falls inside the contact's spring-forward gap: no instant is left.
EMPTY_IN_ZONE = "window_empty_in_contact_zone"


def _instant(wall: datetime, tz: str) -> datetime:
    return local_instant(day=wall.date(), at=wall.time(), tz=tz)


def contact_send_window(
    *, window_start: datetime, window_end: datetime, tz: str, allowed: Window | None
) -> list[tuple[datetime, datetime]] | str:
    """Aware UTC intervals (sorted, disjoint, non-empty) in which the contact may be reached,
    or the reason there are none. Every bound follows local_instant, so allowed hours run
    from the first occurrence of their start to the first of their end: across a fall-back
    the second pass of the repeated hour counts by elapsed time, not by its wall clock."""
    if window_start.tzinfo is not None or window_end.tzinfo is not None:
        raise ValueError("campaign window times are wall-clock times and must be naive")
    if window_end <= window_start:
        raise ValueError("campaign window must end after it starts")
    validate_tz(tz)
    opens, closes = _instant(window_start, tz), _instant(window_end, tz)
    if opens >= closes:
        return EMPTY_IN_ZONE
    if allowed is None:
        return [(opens, closes)]
    pieces: list[tuple[datetime, datetime]] = []
    # From the day before: allowed hours crossing midnight reach into the window's first day.
    day: date = window_start.date() - timedelta(days=1)
    while day <= window_end.date():
        end_day = day + timedelta(days=1) if allowed.crosses_midnight else day
        lo = max(opens, local_instant(day=day, at=allowed.start, tz=tz))
        hi = min(closes, local_instant(day=end_day, at=allowed.end, tz=tz))
        if lo < hi:
            if pieces and lo <= pieces[-1][1]:
                pieces[-1] = (pieces[-1][0], max(hi, pieces[-1][1]))
            else:
                pieces.append((lo, hi))
        day += timedelta(days=1)
    return pieces or NO_OVERLAP


def spread_by_capacity(*, recipients: int, capacities: dict[int, int]) -> dict[int, int]:
    """Split `recipients` over reps (id -> remaining capacity) in proportion to capacity by the
    largest remainder method; the counts sum to `recipients` even beyond total capacity (the
    caller rolls the excess to later days). Ties go to the larger capacity, then the lower id."""
    if recipients < 0 or any(c < 0 for c in capacities.values()):
        raise ValueError("recipients and capacities must not be negative")
    total = sum(capacities.values())
    if recipients == 0:
        return dict.fromkeys(capacities, 0)
    if total == 0:
        raise ValueError("no capacity")
    shares = {rep: recipients * cap // total for rep, cap in capacities.items()}
    left = recipients - sum(shares.values())
    # Fewer reps are left over than have a non-zero remainder, so capacity 0 never gets one.
    by_remainder = sorted(
        capacities,
        key=lambda rep: (-(recipients * capacities[rep] % total), -capacities[rep], rep),
    )
    for rep in by_remainder[:left]:
        shares[rep] += 1
    return shares


KEPT, NARROWED, SKIPPED = "kept", "narrowed", "skipped"


def clip_kind(
    *, window_start: datetime, window_end: datetime, tz: str, allowed: Window | None
) -> tuple[str, list[tuple[datetime, datetime]], str]:
    """(kept | narrowed | skipped, the contact's intervals, the skip reason): kept when the
    allowed hours cover the whole campaign window in the contact's zone."""
    got = contact_send_window(window_start=window_start, window_end=window_end, tz=tz, allowed=allowed)
    if isinstance(got, str):
        return SKIPPED, [], got
    whole = contact_send_window(window_start=window_start, window_end=window_end, tz=tz, allowed=None)
    return (KEPT if got == whole else NARROWED), got, ""


def next_interval(
    intervals: list[tuple[datetime, datetime]], *, after: datetime
) -> tuple[datetime, datetime] | None:
    """The first interval still open at `after`, starting no earlier than `after`."""
    for lo, hi in intervals:
        if hi > after:
            return (max(lo, after), hi)
    return None


def interleave(counts: dict[int, int]) -> list[int]:
    """Rep ids, each as many times as its count, spread evenly through the sequence, so that
    recipients sorted by time alternate between reps in proportion instead of one rep getting
    every early contact: a rep's k-th place sits at (k + 1/2) / count (division is correctly
    rounded, so equal fractions tie exactly). Ties go to the lower id."""
    if any(c < 0 for c in counts.values()):
        raise ValueError("counts must not be negative")
    places = [((2 * k + 1) / (2 * count), rep) for rep, count in counts.items() for k in range(count)]
    return [rep for _, rep in sorted(places)]


def stagger_by_capacity(
    *, windows: list[tuple[datetime, datetime]], days: list[tuple[list[tuple[datetime, datetime]], int]]
) -> list[tuple[datetime, int] | None]:
    """When each of a rep's recipients should fall due so that no shift day is promised more
    sends than it has left: `windows` in serving order, `days` as (that shift day's open
    intervals, sends left) in time order. A recipient takes the first day with sends left whose
    shift overlaps its window: (its window's start, day) when that is the first day that could
    serve it at all, else (the day's first opening inside the window, day); None when no day
    can take it (the dispatcher then decides at the window's start). A queue longer than a day's
    capacity thus waits for its own day instead of being claimed and deferred every morning."""
    left = [remaining for _, remaining in days]
    first = 0
    out: list[tuple[datetime, int] | None] = []
    full_days_meet: dict[tuple, bool] = {}  # windows repeat (one per zone and allowed hours): ask once
    for lo, hi in windows:
        while first < len(days) and left[first] <= 0:
            first += 1
        found = None
        key = (lo, hi, first)
        earlier_could = full_days_meet.get(key)
        if earlier_could is None:
            earlier_could = full_days_meet[key] = any(_opening(days[i][0], lo, hi) is not None for i in range(first))
        for i in range(first, len(days)):
            intervals = days[i][0]
            if intervals and intervals[0][0] >= hi:
                break
            opening = _opening(intervals, lo, hi)
            if opening is None:
                continue
            if left[i] > 0:
                left[i] -= 1
                found = (lo if not earlier_could else opening, i)
                break
            earlier_could = True
        out.append(found)
    return out


def _opening(intervals: list[tuple[datetime, datetime]], lo: datetime, hi: datetime) -> datetime | None:
    return next((max(lo, opens) for opens, closes in intervals if opens < hi and closes > lo), None)
