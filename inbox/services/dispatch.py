"""Batch dispatch: every rule for a batch of claimed messages decided from facts read once,
the provider calls made concurrently, the answers recorded in one transaction (#16 item 7).

A batch of claimed ids (outbound.claim_due) goes through three steps:
1. reserve — one transaction: lock the messages and their rep-channels (id order, so workers
   never deadlock), the channels' rate locks, read capacity, rates, windows and pacing for all
   of them in a fixed number of queries, then decide each message in priority order while
   counting this batch's own reservations in memory: caps and pacing hold exactly as if the
   messages were decided one by one.
2. send — outside any transaction: sandbox answers at once; real providers through a thread
   pool, bounded per provider and per rep-channel. The database is not touched here.
3. record — one transaction: attempts, sent messages, first responses, identities, events.
A batch that raises is replayed message by message, so one bad message never holds the rest.
"""
from __future__ import annotations

import logging
import random
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from datetime import date, datetime

import httpx
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q

from core.copy import copy_update
from core.logs import entity_log
from core.realtime import emit_each
from inbox import hooks, sending
from inbox.models import ContactIdentity, DeliveryAttempt, Message
from inbox.payloads import message_payload
from inbox.selectors import audiences_of, last_inbound_on_channels
from inbox.services import delivery
from inbox.services.contacts import identity_record
from inbox.services.statuses import statuses_pending_apply
from platforms import get_adapter
from platforms.base import SendResult
from salesreps import rules
from salesreps.models import ActivityRecord, ChannelActivity, SalesRepChannel, SalesRepChannelActivity
from salesreps.selectors import allowance_owner, capacities_of, channel_usages, rate_frees_at
from salesreps.services import Performed, ShiftIssue, activities_record_unchecked, allowances_store, shift_errors_record

log = entity_log("messages")
logger = logging.getLogger("switchboard.messages")


@dataclass
class Going:
    """A message decided "send", on its way to the provider."""

    message: Message
    rep_channel: SalesRepChannel
    attempt: DeliveryAttempt
    last_inbound_at: datetime | None
    day: date  # the rep-channel's shift day the send counts on
    result: SendResult | None = None


@dataclass
class _Counts:
    """One batch's view of the ledger: what was stored when it began, plus its own decisions."""

    capacity: dict[int, rules.Capacity]  # by rep-channel id
    rates: dict[int, dict[str, dict]]  # by channel id: channel_usages
    reserved: set[int]  # messages with a ledger row
    new: dict[int, int] = field(default_factory=lambda: defaultdict(int))  # channel id: rows added by this batch
    paced: dict[int, int] = field(default_factory=lambda: defaultdict(int))  # rep-channel id: deferred for pacing

    def facts_for(self, message: Message, rep_channel: SalesRepChannel) -> tuple[rules.Capacity, tuple[sending.RateUsage, ...]]:
        own = int(message.id in self.reserved)  # its own row is left out: every rule runs again
        cap = self.capacity[rep_channel.id]
        rates = tuple(sending.RateUsage(code, u["limit"], u["used"] - own, u["frees_at"])
                      for code, u in self.rates[message.channel_id].items())
        return replace(cap, used=cap.used - own), rates

    def add(self, message: Message, rep_channel: SalesRepChannel, delta: int) -> None:
        """A ledger row added (+1, a new reservation) or released (-1) for this message."""
        cap = self.capacity[rep_channel.id]
        self.capacity[rep_channel.id] = replace(cap, used=cap.used + delta)
        for usage in self.rates[message.channel_id].values():
            usage["used"] += delta
        self.new[message.channel_id] += max(0, delta)


# ---- reserve -------------------------------------------------------------------------------


def _locked(ids: list[int]) -> tuple[list[Message], dict[tuple[int, int], SalesRepChannel]]:
    messages = list(Message.objects.select_for_update(of=("self",))
                    .select_related("conversation__contact", "conversation__rep", "channel", "template")
                    .filter(pk__in=ids, status=Message.Status.SENDING).order_by("-priority", "due_at", "id"))
    pairs = {(m.conversation.rep_id or m.sender_id, m.channel_id) for m in messages}
    wanted = Q(pk__in=[])
    for rep_id, channel_id in pairs:
        wanted |= Q(rep_id=rep_id, channel_id=channel_id)
    # Rows locked in id order (the sort runs below the lock): two batches never wait on each other in a circle.
    rep_channels = {(rc.rep_id, rc.channel_id): rc for rc in (
        SalesRepChannel.objects.select_for_update(of=("self",)).select_related("rep", "channel").filter(wanted).order_by("id"))}
    limited = sorted({m.channel_id for m in messages
                      if m.channel.rate_limit_per_hour is not None or m.channel.rate_limit_per_day is not None})
    with connection.cursor() as cursor:
        for channel_id in limited:
            # Every rep of the channel counts against its rate limit: reps racing on one channel
            # decide one at a time (transaction-scoped, after the rows above: fixed order).
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [delivery.CHANNEL_RATE_LOCK, channel_id])
    hooks.send_batch_locks.call(messages=messages)
    return messages, rep_channels


def _message_activities(rep_channels: list[SalesRepChannel]) -> dict[int, SalesRepChannelActivity]:
    return {a.rep_channel_id: a for a in SalesRepChannelActivity.objects.filter(
        rep_channel__in=rep_channels, activity__name="message").select_related("activity")}


def _last_inbound(messages: list[Message]) -> dict[tuple[int, int], datetime | None]:
    """The person's last message per channel, over all their conversations there."""
    return last_inbound_on_channels(contact_ids={m.conversation.contact_id for m in messages},
                                    channel_ids={m.channel_id for m in messages})


def _facts(message: Message, rep_channel: SalesRepChannel | None, counts: _Counts | None, last_inbound, now: datetime) -> sending.SendFacts:
    contact = message.conversation.contact
    campaign = next((f for f in hooks.send_facts.call(message=message, now=now) if f is not None), None)
    facts = sending.SendFacts(
        now=now, channel_kind=message.channel.kind, has_template=message.template_id is not None,
        purpose=sending.MARKETING if message.campaign_recipient_id else sending.CONVERSATION,
        requires_opt_in=bool(message.channel.config.get("require_opt_in")),
        contact=delivery.contact_facts(contact), has_rep_channel=rep_channel is not None, campaign=campaign,
        channel_last_inbound_at=last_inbound, human_agent_tag=bool(message.channel.config.get("human_agent_tag")),
    )
    if rep_channel is None:
        return facts
    capacity, rates = counts.facts_for(message, rep_channel)
    return replace(
        facts, reserved=message.id in counts.reserved, capacity=capacity, rates=rates, paced_ahead=counts.paced[rep_channel.id],
        last_sent_at=rep_channel.last_sent_at, min_gap_seconds=settings.SEND_MIN_GAP_SECONDS,
        jitter_seconds=settings.SEND_JITTER_SECONDS, reply_gap_seconds=settings.REPLY_GAP_SECONDS, rand=random.random(),
    )


def _with_frees_at(decision: sending.Decision, message: Message, counts: _Counts, now: datetime) -> sending.Decision:
    """A rate limit this batch reached has no stored frees_at yet: read it now (rare)."""
    if decision.code not in ("channel_hourly", "channel_daily") or decision.until is not None:
        return decision
    usage = counts.rates[message.channel_id][decision.code]
    until = rate_frees_at(channel=message.channel, code=decision.code, at=now, limit=usage["limit"],
                          used=usage["used"], pending=counts.new[message.channel_id])
    per = "hour" if decision.code == "channel_hourly" else "day"
    return replace(decision, until=until, reason=f"channel rate limit {usage['limit']}/{per} reached until {until:%Y-%m-%d %H:%M} UTC")


def _allowances_due(decision: sending.Decision, rep_channel, activity, counts: _Counts, due: list) -> None:
    """A send makes the day an active warm-up day: its allowance is stored with the batch's writes
    (under the rep-channel lock, so no racer stores it first) and counted as stored from now. A
    refused one does not (#18: a day of refusals is not a day of warm-up)."""
    if decision.action != "send":
        return
    for effect in decision.effects:
        if isinstance(effect, sending.StoreAllowance):
            due.append((rep_channel.id, getattr(allowance_owner(activity), "id", None), effect.day, effect.allowance))
            counts.capacity[rep_channel.id] = replace(counts.capacity[rep_channel.id], allowance_stored=True)


def reserve(ids: list[int], now: datetime) -> list[Going]:
    """Decide the claimed messages; the ones that may go get their reservation and an open attempt."""
    deferred: list[Message] = []
    going: list[Going] = []
    allowances: list[tuple] = []
    issues: list[ShiftIssue] = []
    with transaction.atomic():
        messages, rep_channels = _locked(ids)
        if not messages:
            return []
        ids = [m.id for m in messages]
        unresolved = set(DeliveryAttempt.objects.filter(message_id__in=ids, status_code=0, ok=False, retryable=False)
                         .values_list("message_id", flat=True))
        activities = _message_activities(list(rep_channels.values()))
        counts = _Counts(
            capacity=capacities_of([(rc, activities.get(rc.id)) for rc in rep_channels.values()], at=now),
            rates=channel_usages(list({m.channel_id: m.channel for m in messages}.values()), at=now),
            reserved=set(ActivityRecord.objects.filter(message_id__in=ids).values_list("message_id", flat=True)),
        )
        last_inbound = _last_inbound(messages)
        for message in messages:
            rep_channel = rep_channels.get((message.conversation.rep_id or message.sender_id, message.channel_id))
            if message.id in unresolved and not get_adapter(message.channel.kind).idempotent and not (rep_channel and rep_channel.sandbox):
                delivery.park_after_crash(message, now)  # a worker died between asking and recording: never resend blind
                continue
            inbound_at = last_inbound.get((message.conversation.contact_id, message.channel_id))
            decision = sending.decide(_facts(message, rep_channel, counts, inbound_at, now))
            if rep_channel is not None:
                _allowances_due(decision, rep_channel, activities.get(rep_channel.id), counts, allowances)
            hooks.send_decided.call(message=message, decision=decision, now=now)
            if rep_channel is not None:
                issues += shift_issues(decision, rep_channel, counts.capacity[rep_channel.id], now, what="message")
            if decision.action == "defer":
                decision = _with_frees_at(decision, message, counts, now)
                message.status, message.due_at, message.lease_until = Message.Status.DEFERRED, decision.until, None
                message.defer_code, message.defer_reason = decision.code, decision.reason
                deferred.append(message)
                if decision.code == "pacing":
                    counts.paced[rep_channel.id] += 1
                log.info("message deferred", message=message.id, code=decision.code, until=decision.until)
            elif decision.action == "fail":
                if rep_channel is not None and message.id in counts.reserved:
                    counts.add(message, rep_channel, -1)  # _fail releases its row
                delivery.fail(message, decision.code, decision.reason)
            elif decision.action == "send":
                if message.id not in counts.reserved:
                    counts.add(message, rep_channel, +1)
                rep_channel.last_sent_at = now
                message.rep_channel, message.attempts = rep_channel, message.attempts + 1
                going.append(Going(message, rep_channel, DeliveryAttempt(message=message, sandbox=rep_channel.sandbox), inbound_at,
                                   counts.capacity[rep_channel.id].day))
        allowances_store(allowances)
        shift_errors_record(issues)
        _write_reservations(going, counts, activities, now)
        _update(Message, deferred + [g.message for g in going],
                ["status", "due_at", "lease_until", "defer_code", "defer_reason", "rep_channel_id", "attempts"])
        _emit(deferred)  # every deferral, pacing included, reaches the socket with its reason
    return going


def shift_issues(decision: sending.Decision, rep_channel: SalesRepChannel, capacity: rules.Capacity, now: datetime,
                 *, what: str) -> list[ShiftIssue]:
    """The shift error a refused send or activity is kept as, if it is one (rules.shift_error_level)."""
    if decision.action not in ("defer", "fail"):
        return []
    level = rules.shift_error_level(decision.code, open_now=rules.is_open(schedule=capacity.schedule, at=now))
    if level is None:
        return []
    return [ShiftIssue(rep_channel.rep_id, rep_channel.id, capacity.day, decision.code, level, f"{what} refused: {decision.reason}", now)]


def unsent_issue(message: Message, g: Going, now: datetime) -> ShiftIssue:
    """A provider that did not take the message: retried later, delivery unknown, or failed."""
    r = g.result
    why = f"{message.channel.name} answered {r.error_code or r.status_code}{': ' + r.error_title if r.error_title else ''}"
    code = ("service_failed" if message.status == Message.Status.FAILED else
            "delivery_unknown" if message.needs_reconciliation else "service_retry")
    return ShiftIssue(g.rep_channel.rep_id, g.rep_channel.id, g.day, code, rules.SHIFT_ERROR_LEVELS[code],
                      f"message {message.id}: {why}", now)


def _write_reservations(going: list[Going], counts: _Counts, activities: dict, now: datetime) -> None:
    if not going:
        return
    new = [g for g in going if g.message.id not in counts.reserved]
    first = {g.rep_channel.id: g.rep_channel for g in new if g.rep_channel.id not in activities}
    if first:  # the first sends that record against these rep-channels
        activities |= _message_activities_create(list(first.values()))
    activities_record_unchecked([Performed(g.rep_channel, activities[g.rep_channel.id], counts.capacity[g.rep_channel.id].schedule,
                                           now, message_id=g.message.id) for g in new])
    rep_channels = list({g.rep_channel.id: g.rep_channel for g in going}.values())
    _update(SalesRepChannel, rep_channels, ["last_sent_at"])
    attempts = DeliveryAttempt.objects.bulk_create([g.attempt for g in going])
    for g, attempt in zip(going, attempts, strict=True):
        g.attempt = attempt


def _update(model, objects: list, fields: list[str]) -> None:
    """One UPDATE from COPY (Django's bulk_update builds a CASE per row and field: 8 ms a message)."""
    if objects:
        copy_update(model, ["id", *fields], [(o.pk, *(getattr(o, f) for f in fields)) for o in objects])


def _message_activities_create(rep_channels: list[SalesRepChannel]) -> dict[int, SalesRepChannelActivity]:
    """The "message" activity of rep-channels sending for the first time, created together."""
    kinds = {c: ChannelActivity.objects.get_or_create(channel_id=c, name="message")[0] for c in {rc.channel_id for rc in rep_channels}}
    SalesRepChannelActivity.objects.bulk_create([SalesRepChannelActivity(rep_channel=rc, activity=kinds[rc.channel_id])
                                                 for rc in rep_channels], ignore_conflicts=True)
    return _message_activities(rep_channels)


def _emit(messages: list[Message]) -> None:
    if messages:
        audiences = audiences_of([m.conversation for m in messages])
        emit_each(([("message.updated", message_payload(m))], audiences[m.conversation_id]) for m in messages)


# ---- send ----------------------------------------------------------------------------------


class Limits:
    """Bounds on calls in flight: per provider (channel kind) and per rep-channel."""

    def __init__(self):
        self._lock = threading.Lock()
        self._providers: dict[str, threading.Semaphore] = {}
        self._rep_channels: dict[int, threading.Semaphore] = {}

    def _get(self, table: dict, key, size: int) -> threading.Semaphore:
        with self._lock:
            return table.setdefault(key, threading.BoundedSemaphore(size))

    def run(self, kind: str, rep_channel_id: int, call: Callable[[], SendResult]) -> SendResult:
        with self._get(self._providers, kind, settings.SEND_PER_PROVIDER), \
                self._get(self._rep_channels, rep_channel_id, settings.SEND_PER_REP_CHANNEL):
            return call()


def send_all(going: list[Going], *, client: httpx.Client, pool: Executor, limits: Limits) -> None:
    """Ask the providers, concurrently. The requests are built here (database reads, this
    thread); the pool's threads only talk HTTP/SMTP."""
    calls = []
    identities = _identities([g.message for g in going if not g.rep_channel.sandbox])
    for g in going:
        if g.rep_channel.sandbox:
            g.result = SendResult(ok=True, external_id=f"sandbox-{uuid.uuid4().hex}", status_code=200, response={"sandbox": True})
            continue
        request = delivery.send_request(g.message, identities.get((g.message.conversation.contact_id, g.message.channel_id)),
                                        g.last_inbound_at)
        if isinstance(request, SendResult):
            g.result = request
            continue
        call = _guarded(request, client)
        calls.append((g, pool.submit(limits.run, g.message.channel.kind, g.rep_channel.id, call)))
    for g, future in calls:
        g.result = future.result()


def _guarded(request: Callable[[httpx.Client], SendResult], client: httpx.Client) -> Callable[[], SendResult]:
    def call() -> SendResult:
        try:
            return request(client)
        except Exception as exc:  # an adapter bug must not strand the message in "sending"
            logger.exception("provider adapter raised")
            return SendResult(ok=False, retryable=True, ambiguous=True, error_code="adapter_error", error_title=str(exc)[:300])
    return call


def _identities(messages: list[Message]) -> dict[tuple[int, int], str]:
    if not messages:
        return {}
    rows = ContactIdentity.objects.filter(contact_id__in={m.conversation.contact_id for m in messages},
                                          channel_id__in={m.channel_id for m in messages}).order_by("id")
    out: dict[tuple[int, int], str] = {}
    for contact_id, channel_id, external_id in rows.values_list("contact_id", "channel_id", "external_id"):
        out.setdefault((contact_id, channel_id), external_id)
    return out


# ---- record --------------------------------------------------------------------------------


def record(going: list[Going], now: datetime) -> None:
    """Store every answer of the batch; failures, retries and unknowns one by one (rare)."""
    if not going:
        return
    with transaction.atomic():
        locked = {m.id: m for m in Message.objects.select_for_update(of=("self",))
                  .select_related("conversation__contact", "conversation__rep", "channel").filter(pk__in=[g.message.id for g in going])}
        for g in going:
            r = g.result
            g.attempt.ok, g.attempt.retryable, g.attempt.status_code = r.ok, r.retryable, r.status_code or (200 if r.ok else 599)
            g.attempt.external_id, g.attempt.error_code, g.attempt.error_title = r.external_id, r.error_code, r.error_title[:300]
            g.attempt.response = r.response
        _update(DeliveryAttempt, [g.attempt for g in going],
                ["ok", "retryable", "status_code", "external_id", "error_code", "error_title", "response"])
        sent, issues = [], []
        for g in going:
            message = locked[g.message.id]
            if g.result.ok:
                sent.append(_sent(message, g.result, now))
            else:
                delivery.unsent(message, g.result, g.attempt, now)
                issues.append(unsent_issue(message, g, now))
        shift_errors_record(issues)
        if sent:
            _update(Message, sent, ["status", "external_id", "sent_at", "status_at", "lease_until", "defer_reason", "defer_code"])
            _first_responses(sent, now)
            _remember_identities(sent)
            _emit(sent)
            for g in going:
                if g.result.ok:
                    log.info("message sent", message=g.message.id, conversation=g.message.conversation_id,
                             external_id=g.result.external_id, sandbox=g.attempt.sandbox)
            for message in sent:
                hooks.message_status_changed.call(message=message)
        statuses_pending_apply(message_ids=[g.message.id for g in going])  # statuses that came before their answer


def _sent(message: Message, result: SendResult, now: datetime) -> Message:
    if message.status == Message.Status.SENDING:  # a status webhook that already settled it stays
        message.status, message.status_at = Message.Status.SENT, now
    message.external_id, message.sent_at = result.external_id, now
    message.lease_until, message.defer_reason, message.defer_code = None, "", ""
    return message


def _first_responses(messages: list[Message], now: datetime) -> None:
    """Seconds from each conversation's start to the team's first reply (the dashboard shows it)."""
    waiting = [m.conversation_id for m in messages
               if m.conversation.first_response_seconds is None and m.conversation.last_inbound_at is not None]
    if waiting:
        with connection.cursor() as cursor:
            cursor.execute("UPDATE inbox_conversation SET first_response_seconds = GREATEST(0, floor(extract(epoch FROM %s - created_at)))"
                           " WHERE id = ANY(%s) AND first_response_seconds IS NULL", [now, waiting])


def _remember_identities(messages: list[Message]) -> None:
    """The first send to a contact on a channel records the identity the platform will answer
    from, so the reply finds this contact instead of creating a second one."""
    known = set(ContactIdentity.objects.filter(contact_id__in={m.conversation.contact_id for m in messages},
                                               channel_id__in={m.channel_id for m in messages}).values_list("contact_id", "channel_id"))
    for message in messages:
        contact, channel = message.conversation.contact, message.channel
        if (contact.pk, channel.pk) not in known:
            identity_record(contact_id=contact.pk, channel=channel, address=contact.email if channel.kind == "email" else contact.phone)
            known.add((contact.pk, channel.pk))
