"""Pure rules for reaching campaign contacts: the campaign window in each contact's zone and
allowed hours and spreading recipients over reps by remaining capacity."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

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


# ---- progress and reasons, as the manager console shows them ----------------------------------

PROGRESS_FIGURES = ("planned", "waiting", "sent", "delivered", "read", "replied", "failed", "skipped", "cancelled")


def progress_figures(*, by_state: dict[str, int], recipients: int, replied: int) -> dict[str, int]:
    """A campaign's progress from its recipients by state: planned (everyone not skipped), waiting
    (scheduled), sent (reached: sent, delivered or read), delivered (delivered or read), read,
    replied, failed, skipped, cancelled."""
    s = {state: by_state.get(state, 0) for state in ("scheduled", "sent", "delivered", "read", "failed", "skipped", "cancelled")}
    return {"planned": recipients - s["skipped"], "waiting": s["scheduled"], "sent": s["sent"] + s["delivered"] + s["read"],
            "delivered": s["delivered"] + s["read"], "read": s["read"], "replied": replied, "failed": s["failed"],
            "skipped": s["skipped"], "cancelled": s["cancelled"]}


REASON_TEXT = {
    NO_OVERLAP: "the campaign window misses the contact's allowed hours",
    EMPTY_IN_ZONE: "the campaign window falls in a clock change in the contact's zone",
    "invalid_timezone": "the contact's time zone is not valid",
    "window_passed": "the campaign window had already passed in the contact's zone",
    "no_rep_on_channel": "no rep of the team (or the pool) works the channel",
    "conversation_of_another_team": "the contact talks to a rep of another team",
    "conversation_with_rep_outside_pool": "the contact's conversation is with a rep outside the rep pool",
    "opted_out": "opted out",
    "opted_out_channel": "opted out of this channel",
    "not_opted_in": "has not opted in to marketing on this channel",
    "whatsapp_24h_window": "WhatsApp's 24-hour window is closed: a template is needed",
    "campaign_window_passed": "the contact's campaign window ended before the message could go",
    "campaign_cancelled": "campaign cancelled",
}


def reason_text(code: str) -> str:
    """A recipient's stored reason (a code, or already a sentence) as a sentence."""
    return REASON_TEXT.get(code, code.replace("_", " ") if code and " " not in code else code)


def _label(instant: datetime, tz: str, now: datetime) -> str:
    try:
        zone = ZoneInfo(validate_tz(tz))
    except ValueError:
        return f"{instant:%Y-%m-%d %H:%M} UTC"
    local, today = instant.astimezone(zone), now.astimezone(zone).date()
    return f"{local:%H:%M} {tz}" if local.date() == today else f"{local:%Y-%m-%d %H:%M} {tz}"


def recipient_why(*, state: str, reason: str, clip: str, message_status: str | None, defer_reason: str, error_title: str,
                  due_at: datetime | None, window_start: datetime | None, tz: str, now: datetime) -> str:
    """Why a recipient waits, or why it was skipped, failed or cancelled, in words: what the
    recipients table shows. A waiting recipient says what its message waits for (the dispatcher's
    deferral reason, else the contact's window or the rep's capacity); the others their reason."""
    if state == "scheduled":
        if message_status == "deferred" and defer_reason:
            return defer_reason
        if message_status in ("failed", "cancelled"):
            return reason_text(error_title or message_status)
        if message_status == "sending":
            return "sending now"
        if due_at is not None and due_at > now:
            if window_start is not None and due_at <= window_start:
                return f"outside the contact's hours until {_label(due_at, tz, now)}"
            return f"the rep's capacity is promised until then: planned for {_label(due_at, tz, now)}"
        narrowed = f" ({reason})" if clip == "narrowed" and reason else ""
        return f"due now, queued to send{narrowed}"
    if state in ("skipped", "failed", "cancelled"):
        return reason_text(reason) or state
    return ""
