"""Pure inbox rules: assignment (DESIGN.md "Assignment"), a contact's quiet hours, where a phone number places a person,
WhatsApp's 24-hour window."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import timezone as phone_timezones

from salesreps.rules import Window, local_instant


@dataclass(frozen=True)
class Candidate:
    rep_id: int
    available: bool
    open_conversations: int


def pick_assignee(*, owner_id: int | None, owner_available: bool, candidates: list[Candidate],
                  person_rep_id: int | None = None) -> int | None:
    """The contact's owner if set (and still able to work the channel); else the rep already
    talking to the person on another channel, if available here (one person, one rep); else the
    available rep with the fewest open conversations (lowest id on ties, so the choice is
    stable); None: wait."""
    if owner_id is not None and owner_available:
        return owner_id
    available = [c for c in candidates if c.available]
    if person_rep_id is not None and any(c.rep_id == person_rep_id for c in available):
        return person_rep_id
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


def phone_place(e164: str) -> tuple[str, str]:
    """(time zone, ISO country) a phone number places its owner in, or ("", "") when the number
    does not say (unknown prefix, or a country spanning zones with no area hint): the caller then
    keeps what it knows rather than guessing UTC."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return "", ""
    country = phonenumbers.region_code_for_number(number) or ""
    zones = [z for z in phone_timezones.time_zones_for_number(number) if z != "Etc/Unknown"]
    return (zones[0] if len(zones) == 1 else ""), (country if country != "ZZ" else "")


def not_after(at: datetime, now: datetime) -> datetime:
    """A platform's timestamp, clamped to now: a clock in the future must not pin a conversation."""
    return min(at, now)


REPLY_WINDOW = timedelta(hours=24)
# Channels whose free-form text is allowed only within REPLY_WINDOW of the person's last message
# there (Messenger and Instagram have their own, tag-dependent rule in inbox.sending.meta_window).
TEMPLATE_AFTER_WINDOW = ("whatsapp",)


@dataclass(frozen=True)
class ReplyWindow:
    applies: bool  # the channel has the rule at all
    open: bool  # free text may go now
    last_inbound_at: datetime | None  # the person's last message on the channel (any conversation)
    closes_at: datetime | None  # when free text stops (None: never opened)


def reply_window_open(*, last_inbound_at: datetime | None, now: datetime) -> bool:
    """Within 24 hours of the person's last message on the channel."""
    return last_inbound_at is not None and now - last_inbound_at <= REPLY_WINDOW


def reply_window(*, channel_kind: str, last_inbound_at: datetime | None, now: datetime) -> ReplyWindow:
    """WhatsApp's customer-service window (DESIGN.md "24-hour window"), as the composer shows it and
    the send decision (inbox.sending.whatsapp_window) applies it."""
    closes_at = last_inbound_at + REPLY_WINDOW if last_inbound_at is not None else None
    if channel_kind not in TEMPLATE_AFTER_WINDOW:
        return ReplyWindow(applies=False, open=True, last_inbound_at=last_inbound_at, closes_at=closes_at)
    return ReplyWindow(applies=True, open=reply_window_open(last_inbound_at=last_inbound_at, now=now),
                       last_inbound_at=last_inbound_at, closes_at=closes_at)
