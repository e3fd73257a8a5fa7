"""The bulk planner: contacts with their windows → recipients, conversations and queued messages.

Set-based so that 100,000 contacts plan in seconds: windows are computed once per distinct
(zone, allowed hours, span), rows are streamed with COPY (core/copy.py; conversations and
messages through inbox/services/batches.py), and no query runs per contact. Each message falls
due when its contact's window and its rep's capacity allow (rules.stagger_by_capacity), so a
queue larger than a day's capacity waits for later days instead of being claimed and deferred
again every morning. Messages go through the one dispatch path (inbox/services/outbound.py),
which applies capacity, warm-up, rate limits, opt-outs, quiet hours and, for campaign messages,
the contact's window and the campaign's daily cap.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import connection

from campaigns import rules
from campaigns.models import Campaign, CampaignRecipient, CampaignSlot, CampaignStep, wall_clock
from campaigns.selectors import campaign_pool, campaign_teams, channel_rep_channels, rep_capacity_days
from campaigns.services.progress import campaign_progress_changed
from campaigns.validation import placeholders
from core.copy import copy_insert, copy_update, reserve_ids
from inbox.models import Message, Template
from inbox.services.batches import conversations_assign_planned, conversations_open_planned, messages_insert_planned
from salesreps.models import Channel, SalesRep

BATCH = 5000
# A follow-up may go within this many days of its earliest time (its delay after the last step).
FOLLOWUP_SPAN = timedelta(days=7)
# Contact zones run from UTC-12 to UTC+14: a wall-clock span happens within these bounds in UTC.
ZONE_BEHIND, ZONE_AHEAD = timedelta(hours=12), timedelta(hours=14)

INVALID_TIMEZONE = "invalid_timezone"
WINDOW_PASSED = "window_passed"
NO_REP = "no_rep_on_channel"
OTHER_TEAM = "conversation_of_another_team"
OUTSIDE_POOL = "conversation_with_rep_outside_pool"

TARGET_FIELDS = ("id", "timezone", "allowed_start", "allowed_end", "lead_score", "owner_id",
                 "name", "phone", "email", "country", "language")


@dataclass(frozen=True, slots=True)
class Target:
    """What planning needs to know about one contact."""

    contact_id: int
    tz: str
    allowed_start: time | None
    allowed_end: time | None
    lead_score: int
    owner_id: int | None
    name: str = ""
    phone: str = ""
    email: str = ""
    country: str = ""
    language: str = "en"

    def variables(self) -> dict:
        return {"name": self.name, "first_name": self.name.split(" ")[0] if self.name else "", "phone": self.phone,
                "email": self.email, "country": self.country}


def targets_from(contacts) -> list[Target]:
    """The contacts of a queryset as Targets, read in one query without building model rows."""
    query, params = contacts.order_by("id").values_list(*TARGET_FIELDS).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return [Target(*row) for row in cursor.fetchall()]


@dataclass(slots=True)
class Row:
    """One recipient to plan: its window (None: skipped, `reason` says why)."""

    target: Target
    window: tuple[datetime, datetime] | None
    clip: str
    reason: str = ""
    slot_id: int | None = None
    not_before: datetime | None = None
    preferred_rep_id: int | None = None
    recipient_id: int | None = None  # re-plan this existing row instead of creating one
    attempts: int = 0


@dataclass(frozen=True)
class Span:
    """A wall-clock window (naive), with the slot it stands for."""

    start: datetime
    end: datetime
    slot_id: int | None = None


@dataclass
class PlanResult:
    scheduled: int = 0
    skipped: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    per_rep: dict[int, int] = field(default_factory=dict)
    # Audience contacts left out before planning, by consent reason (opted_out, opted_out_channel).
    excluded: dict[str, int] = field(default_factory=dict)

    def add_skip(self, reason: str) -> None:
        self.skipped += 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1


# ---- windows ---------------------------------------------------------------------------------


def campaign_spans(campaign: Campaign, slots: Iterable[CampaignSlot] | None = None) -> list[Span]:
    slots = list(campaign.slots.all() if slots is None else slots)
    if slots:
        return [Span(wall_clock(s.start_at), wall_clock(s.end_at), s.id) for s in slots]
    return [Span(wall_clock(campaign.start_at), wall_clock(campaign.end_at))]


def followup_span(*, not_before: datetime, tz: str) -> Span:
    local = not_before.astimezone(ZoneInfo(tz)).replace(tzinfo=None)
    return Span(local, local + FOLLOWUP_SPAN)


class WindowPlanner:
    """Windows for many contacts, computed once per distinct (zone, allowed hours, span)."""

    def __init__(self) -> None:
        self._cache: dict[tuple, tuple[str, list, str]] = {}
        self._rows: dict[tuple, tuple] = {}

    def clip(self, target: Target, span: Span) -> tuple[str, list[tuple[datetime, datetime]], str]:
        key = (target.tz, target.allowed_start, target.allowed_end, span.start, span.end)
        got = self._cache.get(key)
        if got is None:
            got = self._compute(target, span)
            self._cache[key] = got
        return got

    @staticmethod
    def _compute(target: Target, span: Span) -> tuple[str, list, str]:
        allowed = None
        if target.allowed_start is not None and target.allowed_end is not None:
            if target.allowed_start == target.allowed_end:
                return rules.SKIPPED, [], rules.NO_OVERLAP  # empty allowed hours allow nothing
            allowed = rules.Window(target.allowed_start, target.allowed_end)
        try:
            return rules.clip_kind(window_start=span.start, window_end=span.end, tz=target.tz, allowed=allowed)
        except ValueError:
            return rules.SKIPPED, [], INVALID_TIMEZONE

    def row(self, target: Target, spans: list[Span], *, after: datetime, unstarted: bool = False, **extra) -> Row:
        """The contact's first window at or after `after` in the first span that still has one;
        with `unstarted`, only a span that has not begun yet for the contact counts."""
        key = (target.tz, target.allowed_start, target.allowed_end, tuple(spans), after, unstarted)
        found = self._rows.get(key)
        if found is None:
            found = self._rows[key] = self._first_window(target, spans, after=after, unstarted=unstarted)
        window, kind, reason, slot_id = found
        return Row(target, window, kind, reason, slot_id, **extra)

    def _first_window(self, target: Target, spans: list[Span], *, after: datetime, unstarted: bool) -> tuple:
        reason = ""
        for span in spans:
            kind, intervals, why = self.clip(target, span)
            if kind == rules.SKIPPED:
                reason = reason or why
                continue
            if unstarted and intervals[0][0] < after:
                reason = WINDOW_PASSED
                continue
            window = rules.next_interval(intervals, after=after)
            if window is not None:
                return window, kind, _narrowed_reason(target) if kind == rules.NARROWED else "", span.slot_id
            reason = WINDOW_PASSED
        return None, rules.SKIPPED, reason or rules.NO_OVERLAP, None


def _narrowed_reason(target: Target) -> str:
    return f"narrowed to allowed hours {target.allowed_start:%H:%M}-{target.allowed_end:%H:%M} {target.tz}"


# ---- bodies ----------------------------------------------------------------------------------


class BodyRenderer:
    """The step's (or campaign's) text or template rendered per contact, in the contact's language.
    A template message also carries its variables (a WhatsApp template is sent by name with them)."""

    def __init__(self, *, text: str, template: Template | None, variables: dict):
        self.text, self.template = text, template
        self.variables = {k: str(v) for k, v in variables.items()}
        self._texts: dict[str, tuple[str, frozenset[str]]] = {}

    def _text(self, language: str) -> tuple[str, frozenset[str]]:
        got = self._texts.get(language)
        if got is None:
            text = (self.template.translations.get(language) or self.template.body) if self.template else self.text
            got = self._texts[language] = (text, frozenset(placeholders(text)))
        return got

    def render(self, target: Target) -> tuple[str, dict]:
        text, names = self._text(target.language)
        if not names and self.template is None:
            return text, {}
        values = {**target.variables(), **self.variables} if names - self.variables.keys() else self.variables
        body = text.format_map(values)
        return body, (values if self.template is not None else {})


# ---- reps ------------------------------------------------------------------------------------


def rep_days(*, channel: Channel, teams: frozenset[int] | None, start: datetime, end: datetime, now: datetime,
             pool: frozenset[int] | None = None) -> dict[int, list]:
    """Each of the channel's reps of `teams` (None: any), of the rep `pool` if there is one → their
    shift days within [start, end) with sends left."""
    return {rc.rep_id: rep_capacity_days(rep_channel=rc, start=start, end=end, now=now)
            for rc in channel_rep_channels(channel.id, teams=teams, pool=pool)}


def _skip_other_teams(rows: list[Row], conversations: dict[int, tuple[int, int | None]], teams: frozenset[int]) -> list[Row]:
    """The rows to plan: a contact whose active conversation on the channel is held by a rep of
    another team is skipped with OTHER_TEAM (the message would go on that rep's capacity, in that
    team's inbox), not reassigned."""
    held = {rep_id for _, rep_id in conversations.values() if rep_id is not None}
    foreign = set(SalesRep.objects.filter(pk__in=held).exclude(team_id__in=teams).values_list("id", flat=True)) if held else set()
    if not foreign:
        return rows
    for row in rows:
        if conversations.get(row.target.contact_id, (None, None))[1] in foreign:
            row.window, row.clip, row.reason = None, rules.SKIPPED, OTHER_TEAM
    return [row for row in rows if row.window is not None]


def _skip_outside_pool(rows: list[Row], conversations: dict[int, tuple[int, int | None]], pool: frozenset[int]) -> list[Row]:
    """With a rep pool, only its reps send: a contact whose active conversation on the channel is
    held by a rep outside the pool is skipped with OUTSIDE_POOL (a conversation keeps its rep)."""
    for row in rows:
        rep_id = conversations.get(row.target.contact_id, (None, None))[1]
        if rep_id is not None and rep_id not in pool:
            row.window, row.clip, row.reason = None, rules.SKIPPED, OUTSIDE_POOL
    return [row for row in rows if row.window is not None]


def _due_times(rows: list[Row], rep_of: dict[int, int | None], days: dict[int, list]) -> dict[int, datetime]:
    """contact id → when its message falls due: its window's start, or the opening of a later
    shift day when its rep's earlier days are already promised to better-placed recipients
    (rules.stagger_by_capacity). Rows are served by window, then best lead score first."""
    by_rep: dict[int | None, list[Row]] = {}
    for row in rows:
        by_rep.setdefault(rep_of.get(row.target.contact_id), []).append(row)
    due: dict[int, datetime] = {}
    for rep_id, group in by_rep.items():
        group.sort(key=lambda r: (r.window[0], -r.target.lead_score, r.target.contact_id))
        staggered = rules.stagger_by_capacity(windows=[r.window for r in group], days=days.get(rep_id, []))
        for row, planned in zip(group, staggered, strict=True):
            due[row.target.contact_id] = planned[0] if planned else row.window[0]
    return due


def _assign(rows: list[Row], conversations: dict[int, tuple[int, int | None]], weights: dict[int, int]) -> dict[int, int | None]:
    """contact id → rep: the conversation's rep if it has one, else the preferred rep (owner,
    or the previous step's rep) if they work the channel, else spread over the channel's reps in
    proportion to their remaining capacity, interleaved in the order of the rows' windows."""
    chosen: dict[int, int | None] = {}
    free: list[Row] = []
    committed = dict.fromkeys(weights, 0)
    for row in rows:
        contact_id = row.target.contact_id
        rep_id = conversations.get(contact_id, (None, None))[1]
        if rep_id is None and row.preferred_rep_id in weights:
            rep_id = row.preferred_rep_id
        if rep_id is None:
            free.append(row)
            continue
        chosen[contact_id] = rep_id
        if rep_id in committed:
            committed[rep_id] += 1
    if free:
        left = {rep: max(0, w - committed[rep]) for rep, w in weights.items()}
        if not any(left.values()):
            left = weights if any(weights.values()) else dict.fromkeys(weights, 1)
        counts = rules.spread_by_capacity(recipients=len(free), capacities=left)
        free.sort(key=lambda r: (r.window[0], -r.target.lead_score, r.target.contact_id))
        for row, rep_id in zip(free, rules.interleave(counts), strict=True):
            chosen[row.target.contact_id] = rep_id
    return chosen


# ---- conversations ---------------------------------------------------------------------------


def _active_conversations(channel: Channel, contact_ids: list[int]) -> dict[int, tuple[int, int | None]]:
    """contact id → (active conversation on the channel, its rep), in one query. The ids are joined
    as a set (unnest), not tested with `= ANY(array)`: as a filter that costs array-length per
    row, and psycopg's prepared plan from small runs would keep using it for 100,000 ids."""
    if not contact_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.contact_id, c.id, c.rep_id FROM inbox_conversation AS c JOIN unnest(%s::bigint[]) AS t(id) ON c.contact_id = t.id"
            " WHERE c.channel_id = %s AND c.status <> 'resolved'",
            [contact_ids, channel.id],
        )
        return {contact_id: (conversation_id, rep_id) for contact_id, conversation_id, rep_id in cursor.fetchall()}


def _ensure_conversations(channel: Channel, rows: list[Row], chosen: dict[int, int | None],
                          bodies: dict[int, str]) -> dict[int, tuple[int, int | None]]:
    """Each row's active conversation on the channel: reused, else created assigned to the chosen
    rep; an unassigned one is assigned to the chosen rep. A conversation opened concurrently by an
    inbound message wins the unique constraint and is used as it is. The inbox writes them and
    tells the watching inboxes (one `conversations.changed` per batch: see conversations_open_planned)."""
    contact_ids = [row.target.contact_id for row in rows]
    existing = _active_conversations(channel, contact_ids)
    missing = [c for c in contact_ids if c not in existing]
    if missing:
        conversations_open_planned(channel_id=channel.id, rows=[(c, chosen.get(c), bodies[c]) for c in missing])
    unassigned = [(conversation_id, chosen[c]) for c, (conversation_id, rep_id) in existing.items()
                  if rep_id is None and chosen.get(c) is not None]
    if unassigned:
        conversations_assign_planned(assignments=unassigned)
    return _active_conversations(channel, contact_ids) if missing or unassigned else existing


# ---- the planner -----------------------------------------------------------------------------

RECIPIENT_COLUMNS = ["id", "campaign_id", "contact_id", "step", "channel_id", "rep_id", "state", "reason", "clip", "slot_id",
                     "window_start", "window_end", "not_before", "message_id", "attempts", "reserved_at"]


def plan_rows(*, campaign: Campaign, channel: Channel, step: CampaignStep | None, rows: list[Row], now: datetime,
              progress: Callable[[int], None] | None = None, require_reps: bool = True) -> PlanResult:
    """Write recipients (new, or re-planned when a row names one), conversations and queued
    messages for `rows`. Caller holds the campaign row lock inside a transaction: nothing is
    half-planned. Skipped rows that re-plan an existing recipient are left as they were."""
    result = PlanResult()
    number = step.number if step else 0
    teams = campaign_teams(campaign)
    pool = campaign_pool(campaign)
    live = [row for row in rows if row.window is not None]
    weights: dict[int, int] = {}
    days: dict[int, list] = {}
    if live:
        start = min(row.window[0] for row in live)
        end = max(row.window[1] for row in live)
        days = rep_days(channel=channel, teams=teams, start=start, end=end, now=now, pool=pool)
        weights = {rep_id: sum(left for _, left in rep_days_) for rep_id, rep_days_ in days.items()}
        if not weights:
            if require_reps:
                if pool is not None:
                    raise ValueError(f"no rep of the campaign's pool works channel {channel.name!r}: change the pool")
                raise ValueError(f"channel {channel.name!r} has no reps: add a rep to it before sending")
            for row in live:
                row.window, row.clip, row.reason = None, rules.SKIPPED, NO_REP
            live = []
        elif require_reps and not any(weights.values()):
            raise ValueError(f"no rep on channel {channel.name!r} has capacity or a shift between "
                             f"{start:%Y-%m-%d %H:%M} and {end:%Y-%m-%d %H:%M} UTC")
    conversations = _active_conversations(channel, [row.target.contact_id for row in live])
    if teams is not None and live:
        live = _skip_other_teams(live, conversations, teams)
    if pool is not None and live:
        live = _skip_outside_pool(live, conversations, pool)
    own_content = step is not None and bool(step.text or step.template_id)
    renderer = BodyRenderer(text=step.text if own_content else campaign.text,
                            template=step.template if own_content else campaign.template, variables=campaign.variables)
    rendered = {row.target.contact_id: renderer.render(row.target) for row in live}
    chosen = _assign(live, conversations, weights) if live else {}
    if live:
        conversations = _ensure_conversations(channel, live, chosen, {c: body for c, (body, _) in rendered.items()})
    rep_of = {c: conversations[c][1] or chosen.get(c) for c in chosen}
    due = _due_times(live, rep_of, days) if live else {}

    fresh = [row for row in rows if row.recipient_id is None]
    fresh_ids = iter(reserve_ids(CampaignRecipient, len(fresh)))
    message_ids = iter(reserve_ids(Message, len(live)))
    recipients: list[tuple] = []
    replanned: list[tuple] = []
    messages: list[tuple] = []
    template_id = renderer.template.id if renderer.template else None
    for row in rows:
        contact_id = row.target.contact_id
        if row.window is None:
            result.add_skip(row.reason)
            if row.recipient_id is None:
                recipients.append((next(fresh_ids), campaign.id, contact_id, number, channel.id, None, "skipped", row.reason[:200],
                                   row.clip, row.slot_id, None, None, row.not_before, None, row.attempts, None))
            continue
        recipient_id = row.recipient_id or next(fresh_ids)
        message_id = next(message_ids)
        rep_id = rep_of.get(contact_id)
        attempts = row.attempts + 1
        values = (recipient_id, campaign.id, contact_id, number, channel.id, rep_id, "scheduled", row.reason[:200], row.clip,
                  row.slot_id, row.window[0], row.window[1], row.not_before, message_id, attempts, None)
        (replanned if row.recipient_id else recipients).append(values)
        body, variables = rendered[contact_id]
        messages.append((message_id, conversations[contact_id][0], channel.id, body, template_id, variables, rep_id,  # PLANNED_MESSAGE_COLUMNS
                         f"campaign:{campaign.id}:{number}:{contact_id}:{attempts}", due[contact_id], row.target.lead_score,
                         recipient_id))
        result.scheduled += 1
        if rep_id is not None:
            result.per_rep[rep_id] = result.per_rep.get(rep_id, 0) + 1

    for i in range(0, len(recipients), BATCH * 4):
        copy_insert(CampaignRecipient, RECIPIENT_COLUMNS, recipients[i:i + BATCH * 4])
        if progress:
            progress(len(recipients[i:i + BATCH * 4]))
    if replanned:
        copy_update(CampaignRecipient, [c for c in RECIPIENT_COLUMNS if c not in ("campaign_id", "contact_id", "step")],
                    (r[:1] + r[4:] for r in replanned))
        if progress:
            progress(len(replanned))
    messages_insert_planned(rows=messages)
    campaign_progress_changed(campaign_ids=[campaign.id])
    return result
