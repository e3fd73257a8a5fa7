"""The send decision (DESIGN.md flow 2), pure: ordered checks over plain values, no database.

`decide(facts)` runs CHECKS in order; the first that answers decides. A check may also ask for
writes (effects) that the caller applies in the same transaction: storing the day's warm-up
allowance, re-planning or skipping a campaign recipient, reserving a campaign's daily send.
The facts are gathered up front by inbox/services/outbound.py (under the message and
rep-channel row locks) and, for campaign messages, by campaigns through inbox/hooks.py.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from inbox.rules import REPLY_WINDOW, is_quiet, quiet_ends, reply_window, reply_window_open
from salesreps import rules
from salesreps.rules import Capacity, Window, local_label

UNAVAILABLE_RECHECK = timedelta(minutes=15)
# What a message is for, as consent sees it: campaigns (and their follow-ups) are marketing.
MARKETING, CONVERSATION = "marketing", "conversation"
PURPOSES = (MARKETING, CONVERSATION)
# A paused campaign's messages are parked this far ahead, so claim_due never picks them.
PAUSED_UNTIL = datetime(9999, 1, 1, tzinfo=UTC)
PAUSED_CODE, PAUSED_REASON = "campaign_paused", "campaign paused"


# ---- effects: writes a decision asks of its caller ------------------------------------------

@dataclass(frozen=True)
class StoreAllowance:
    """The capacity check reached the day's allowance: the day is an active warm-up day."""

    day: date
    allowance: int


@dataclass(frozen=True)
class RecipientCancel:
    """The campaign was cancelled: the scheduled recipient is cancelled too."""


@dataclass(frozen=True)
class RecipientSkip:
    reason: str


@dataclass(frozen=True)
class RecipientReplan:
    window: tuple[datetime, datetime]
    slot_id: int | None
    clip: str


@dataclass(frozen=True)
class CampaignSendReserve:
    """One of the campaign's sends of the (UTC) day is taken by this message."""


Effect = StoreAllowance | RecipientCancel | RecipientSkip | RecipientReplan | CampaignSendReserve


@dataclass(frozen=True)
class Decision:
    action: str  # send | defer | fail | skip
    code: str = ""
    reason: str = ""
    until: datetime | None = None
    effects: tuple[Effect, ...] = ()


# ---- facts ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class ContactFacts:
    opted_out: bool = False
    opt_out_reason: str = ""
    channel_opt_outs: frozenset[str] = frozenset()
    purpose_opt_outs: frozenset[str] = frozenset()  # marketing | conversation
    opt_ins: frozenset[str] = frozenset()  # channel kinds the person explicitly agreed to marketing on
    last_inbound_at: datetime | None = None
    timezone: str = "UTC"
    quiet: Window | None = None


@dataclass(frozen=True)
class Replan:
    """The recipient's next window after its current one ended (window None: nothing left)."""

    window: tuple[datetime, datetime] | None
    slot_id: int | None = None
    clip: str = ""
    reason: str = ""


@dataclass(frozen=True)
class CampaignFacts:
    """A campaign message's recipient and campaign, as campaigns read them (inbox/hooks.py)."""

    status: str  # the campaign's: draft | scheduled | running | paused | done | cancelled
    recipient_state: str
    recipient_reason: str = ""
    window_start: datetime | None = None
    window_end: datetime | None = None
    replan: Replan | None = None  # read only when the window has ended
    daily_cap: int | None = None
    reserved_today: bool = False
    used_today: int = 0


@dataclass(frozen=True)
class RateUsage:
    """A channel rate limit against the ledger over its rolling span (salesreps channel_usage)."""

    code: str  # channel_hourly | channel_daily
    limit: int
    used: int
    frees_at: datetime | None


@dataclass(frozen=True)
class SendFacts:
    now: datetime
    channel_kind: str
    has_template: bool
    contact: ContactFacts
    purpose: str = CONVERSATION  # MARKETING for campaign messages
    requires_opt_in: bool = False  # the channel sends marketing only to contacts who opted in to it
    has_rep_channel: bool = True
    campaign: CampaignFacts | None = None
    # Capacity already reserved by an earlier claim of this message. Informative only: the counts
    # given leave its own row out, so every rule decides again on each claim.
    reserved: bool = False
    capacity: Capacity | None = None
    rates: tuple[RateUsage, ...] = ()
    last_sent_at: datetime | None = None
    min_gap_seconds: float = 0
    jitter_seconds: float = 0
    reply_gap_seconds: float = 0  # the gap between live replies (is_live_reply), a human's pace
    rand: float = 0.0  # drawn by the gatherer, so the decision stays pure
    # Messages of this rep-channel already deferred for pacing in the same dispatch batch: this
    # one waits that many gaps more, so a rep-channel's queue is spread over its slots instead of
    # every message waking at the same instant to be deferred again (a herd of claims per gap).
    paced_ahead: int = 0
    # The person's last message on *this* channel: the platforms' 24-hour windows are per channel.
    channel_last_inbound_at: datetime | None = None
    human_agent_tag: bool = False  # the Meta app may use the HUMAN_AGENT tag (7 days after the last message)


Answer = tuple[Decision | None, tuple[Effect, ...]]
SEND = Decision("send")


# ---- the checks, in order -------------------------------------------------------------------

def opted_out(f: SendFacts) -> Answer:
    if f.contact.opted_out:
        return Decision("fail", "opted_out", f"contact opted out ({f.contact.opt_out_reason or 'request'})"), ()
    if f.channel_kind in f.contact.channel_opt_outs:
        return Decision("fail", "opted_out_channel", f"contact opted out of {f.channel_kind} messages"), ()
    if f.purpose in f.contact.purpose_opt_outs:
        return Decision("fail", f"opted_out_{f.purpose}", f"contact opted out of {f.purpose} messages"), ()
    if f.purpose == MARKETING and f.requires_opt_in and f.channel_kind not in f.contact.opt_ins:
        return Decision("fail", "not_opted_in", f"contact has not opted in to {f.channel_kind} marketing messages"), ()
    return None, ()


def rep_channel_present(f: SendFacts) -> Answer:
    if not f.has_rep_channel:
        return Decision("fail", "no_rep_channel", "no rep with this channel is assigned to the conversation"), ()
    return None, ()


WINDOW = REPLY_WINDOW
HUMAN_AGENT_WINDOW = timedelta(days=7)
META_MESSAGING = ("messenger", "instagram")


def window_open(f: SendFacts) -> bool:
    """Inside the platform's 24-hour window of the person's last message on this channel."""
    return reply_window_open(last_inbound_at=f.channel_last_inbound_at, now=f.now)


def whatsapp_window(f: SendFacts) -> Answer:
    window = reply_window(channel_kind=f.channel_kind, last_inbound_at=f.channel_last_inbound_at, now=f.now)
    if window.applies and not window.open and not f.has_template:
        return Decision("fail", "whatsapp_24h_window",
                        "WhatsApp's 24-hour window has closed: free text is refused, send a template"), ()
    return None, ()


def meta_window(f: SendFacts) -> Answer:
    """Messenger and Instagram answer within 24 hours of the person's last message (messaging_type
    RESPONSE); after that only with the HUMAN_AGENT tag, up to 7 days, where the app has it."""
    if f.channel_kind not in META_MESSAGING or window_open(f):
        return None, ()
    last = f.channel_last_inbound_at
    if f.human_agent_tag and last is not None and f.now - last <= HUMAN_AGENT_WINDOW:
        return None, ()
    name = "Messenger" if f.channel_kind == "messenger" else "Instagram"
    why = ("the person has not written on this channel" if last is None else
           "more than 7 days since the person's last message" if f.human_agent_tag else
           "the 24-hour window has closed and the channel has no HUMAN_AGENT tag permission")
    return Decision("fail", f"{f.channel_kind}_24h_window", f"{name} refuses this message: {why}"), ()


def campaign_window(f: SendFacts) -> Answer:
    """A campaign message goes only inside its recipient's window: before it, it waits; past it,
    the recipient is re-planned into the contact's next allowed window (next slot), or skipped
    with the reason when none is left. A paused or cancelled campaign holds it too."""
    c, tz = f.campaign, f.contact.timezone
    if c is None:
        return None, ()
    if c.status == "paused":
        return Decision("defer", PAUSED_CODE, PAUSED_REASON, PAUSED_UNTIL), ()
    if c.status == "cancelled":
        effects = (RecipientCancel(),) if c.recipient_state == "scheduled" else ()
        return Decision("fail", "campaign_cancelled", "campaign cancelled"), effects
    if c.recipient_state in ("cancelled", "skipped"):
        return Decision("fail", f"campaign_recipient_{c.recipient_state}", c.recipient_reason or f"recipient {c.recipient_state}"), ()
    if c.window_start is None or c.window_end is None:
        return None, ()
    if f.now < c.window_start:
        return Decision("defer", "contact_window", f"contact's window opens {local_label(c.window_start, tz)}", c.window_start), ()
    if f.now < c.window_end:
        return None, ()
    replan = c.replan or Replan(None, reason="no window left")
    if replan.window is None:
        return (Decision("fail", "campaign_window_passed",
                         f"the contact's campaign window ended before the message could go ({replan.reason})"),
                (RecipientSkip(replan.reason),))
    moved = (RecipientReplan(replan.window, replan.slot_id, replan.clip),)
    if replan.window[0] <= f.now:
        return None, moved  # the contact's next window is open now: the other rules decide
    return (Decision("defer", "contact_window", f"contact's window ended; re-planned to {local_label(replan.window[0], tz)}",
                     replan.window[0]), moved)


def quiet_hours(f: SendFacts) -> Answer:
    quiet, tz = f.contact.quiet, f.contact.timezone
    if quiet is not None and is_quiet(at=f.now, tz=tz, quiet=quiet):
        until = quiet_ends(at=f.now, tz=tz, quiet=quiet)
        return Decision("defer", "quiet_hours", f"contact's quiet hours until {local_label(until, tz, '%H:%M')}", until), ()
    return None, ()


def capacity(f: SendFacts) -> Answer:
    cap = f.capacity
    if cap is None:
        return None, ()
    effects = ()
    if not cap.allowance_stored and rules.capacity_counts_day(capacity=cap, at=f.now):
        effects = (StoreAllowance(cap.day, cap.allowance),)
    refusal = rules.capacity_refusal(capacity=cap, at=f.now)
    if refusal:
        return Decision("defer", refusal.code, refusal.reason, refusal.until or (f.now + UNAVAILABLE_RECHECK)), effects
    return None, effects


def channel_rate(f: SendFacts) -> Answer:
    for usage in f.rates:
        if usage.used >= usage.limit:
            per = "hour" if usage.code == "channel_hourly" else "day"
            return Decision("defer", usage.code, f"channel rate limit {usage.limit}/{per} reached until "
                            f"{usage.frees_at:%Y-%m-%d %H:%M} UTC", usage.frees_at), ()
    return None, ()


def _next_utc_day(now: datetime) -> datetime:
    return datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), time(0), tzinfo=UTC)


def campaign_cap(f: SendFacts) -> Answer:
    """Campaign.daily_cap: at most that many of the campaign's messages pass per UTC day."""
    c = f.campaign
    if c is None or c.daily_cap is None or c.reserved_today:
        return None, ()
    if c.used_today >= c.daily_cap:
        until = _next_utc_day(f.now)
        return Decision("defer", "campaign_cap", f"campaign daily cap {c.daily_cap} reached until {until:%Y-%m-%d %H:%M} UTC", until), ()
    return None, (CampaignSendReserve(),)


def is_live_reply(f: SendFacts) -> bool:
    """A rep answering someone who wrote on this channel within the last 24 hours, outside any
    campaign: a conversation, not outreach (#16)."""
    return f.purpose == CONVERSATION and window_open(f)


def pacing(f: SendFacts) -> Answer:
    """Pacing (and its jitter) shapes outreach so platforms don't flag the rep as a robot; a live
    reply only keeps a short human-scale gap (reply_gap_seconds), still counted against capacity."""
    live = is_live_reply(f)
    gap, jitter = (f.reply_gap_seconds, 0.0) if live else (f.min_gap_seconds, f.jitter_seconds)
    delay = rules.pacing_delay(last_sent_at=f.last_sent_at, now=f.now, min_gap_seconds=gap, jitter_seconds=jitter, rand=f.rand)
    if delay > 0:
        delay += f.paced_ahead * gap
        until = f.now + timedelta(seconds=delay)
        what = "reply gap" if live else "pacing between outreach sends"
        return Decision("defer", "pacing", f"{what} on this rep-channel: {gap:g} s, next at {until:%H:%M:%S} UTC", until), ()
    return None, ()


CHECKS: tuple[Callable[[SendFacts], Answer], ...] = (
    opted_out, rep_channel_present, whatsapp_window, meta_window, campaign_window, quiet_hours,
    capacity, channel_rate, campaign_cap, pacing,
)


# An activity other than a message (a like, a comment…) has no contact to consent or a platform
# window to respect: the rep-channel's own checks decide it, the same functions as for messages.
ACTIVITY_CHECKS: tuple[Callable[[SendFacts], Answer], ...] = (capacity, channel_rate, pacing)


def decide(facts: SendFacts, checks: tuple[Callable[[SendFacts], Answer], ...] = CHECKS) -> Decision:
    """The first check that answers decides; every effect asked for on the way is kept."""
    effects: tuple[Effect, ...] = ()
    for check in checks:
        decision, more = check(facts)
        effects += more
        if decision is not None:
            return Decision(decision.action, decision.code, decision.reason, decision.until, effects)
    return Decision("send", effects=effects)
