"""Pure rules for reaching campaign contacts: the campaign window in each contact's zone and
allowed hours, quiet hours, and spreading recipients over reps by remaining capacity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from salesreps.rules import local_instant, validate_tz

NO_OVERLAP = "no_overlap_with_allowed_hours"
# The whole campaign window falls inside the contact's spring-forward gap: no instant is left.
EMPTY_IN_ZONE = "window_empty_in_contact_zone"


@dataclass(frozen=True)
class LocalHours:
    """Local wall-clock hours; end before start crosses midnight."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("local hours must be naive wall-clock times")
        if self.start == self.end:
            raise ValueError(f"empty hours: start equals end ({self.start})")

    @property
    def crosses_midnight(self) -> bool:
        return self.end < self.start

    def contains(self, wall: time) -> bool:
        if self.crosses_midnight:
            return wall >= self.start or wall < self.end
        return self.start <= wall < self.end


def _instant(wall: datetime, tz: str) -> datetime:
    return local_instant(day=wall.date(), at=wall.time(), tz=tz)


def contact_send_window(
    *, window_start: datetime, window_end: datetime, tz: str, allowed: LocalHours | None
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


def is_quiet(*, at: datetime, tz: str, quiet: LocalHours | None) -> bool:
    # By the wall clock the contact sees, so both passes of a repeated hour count.
    if quiet is None:
        return False
    return quiet.contains(at.astimezone(ZoneInfo(tz)).time())


def quiet_ends(*, at: datetime, tz: str, quiet: LocalHours | None) -> datetime:
    """The first instant at or after `at` outside quiet hours (`at` itself when not quiet)."""
    zone = ZoneInfo(tz)
    local = at.astimezone(zone)
    if quiet is None or not quiet.contains(local.time()):
        return at
    end_day = local.date()
    if quiet.crosses_midnight and local.time() >= quiet.start:
        end_day += timedelta(days=1)
    first = local_instant(day=end_day, at=quiet.end, tz=tz)
    if first > at:
        return first
    # `at` is in the second pass of a repeated hour, past the first occurrence of the end.
    second = datetime.combine(end_day, quiet.end, tzinfo=zone).replace(fold=1)
    return second.astimezone(UTC)


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
