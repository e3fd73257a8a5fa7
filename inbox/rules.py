"""Pure inbox rules: assignment (DESIGN.md "Assignment") and a contact's quiet hours."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from salesreps.rules import Window, local_instant


@dataclass(frozen=True)
class Candidate:
    rep_id: int
    available: bool
    open_conversations: int


def pick_assignee(*, owner_id: int | None, owner_available: bool, candidates: list[Candidate]) -> int | None:
    """The contact's owner if set (and still able to work the channel), else the available rep
    with the fewest open conversations (lowest id on ties, so the choice is stable); None: wait."""
    if owner_id is not None and owner_available:
        return owner_id
    available = [c for c in candidates if c.available]
    if not available:
        return None
    return min(available, key=lambda c: (c.open_conversations, c.rep_id)).rep_id


def is_quiet(*, at: datetime, tz: str, quiet: Window | None) -> bool:
    # By the wall clock the contact sees, so both passes of a repeated hour count.
    if quiet is None:
        return False
    return quiet.contains(at.astimezone(ZoneInfo(tz)).time())


def quiet_ends(*, at: datetime, tz: str, quiet: Window | None) -> datetime:
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
        if quiet.contains(first.astimezone(zone).time()):
            # The free stretch after quiet.end fell wholly into that day's spring-forward gap
            # (quiet 00:15-00:00 in Santiago on 2026-09-06): quiet runs on to the next end.
            return quiet_ends(at=first, tz=tz, quiet=quiet)
        return first
    # `at` is in the second pass of a repeated hour, past the first occurrence of the end.
    second = datetime.combine(end_day, quiet.end, tzinfo=zone).replace(fold=1)
    return second.astimezone(UTC)
