"""Statuses of our outbound messages applied set-based: each names its message by the platform's
external id or by our correlation id (the send's idempotency key, echoed back), moves it forward
only (read > delivered > sent; failed is final), and is kept in its history.

A platform may report a status before the answer to the send (its external id) is stored: the
answer is slow, or a crash lost it. Such statuses are kept (PendingStatus) and applied when the
answer is recorded (statuses_pending_apply, from the dispatcher's record step) or, for a message
parked as "delivery unknown", by beat (statuses_pending_sweep). Keeping and applying take the same
(channel, external id) locks, always after any message row lock, so neither misses the other and
no two wait on each other in a circle.
"""
from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from core.copy import copy_update
from core.logs import entity_log
from core.realtime import emit_each
from inbox import hooks
from inbox.models import STATUS_RANK, Conversation, Message, MessageEvent, PendingStatus
from inbox.payloads import message_payload
from inbox.selectors import audiences_of
from platforms.base import KEY_PREFIX, StatusUpdate
from salesreps.models import Channel

log = entity_log("messages")


def by_channel(pairs, key) -> Q:
    """One OR-ed condition per channel: (channel, external id in …)."""
    ids: dict[int, set[str]] = defaultdict(set)
    for channel, event in pairs:
        ids[channel.id].add(key(event))
    condition = Q(pk__in=[])
    for channel_id, external_ids in ids.items():
        condition |= Q(channel_id=channel_id, external_id__in=sorted(external_ids))
    return condition


def status_advance(message: Message, status: str, at, *, error_code: str = "", error_title: str = "") -> bool:
    """Apply a status in memory if it moves the message forward (read > delivered > sent); failed
    is final unless the message already got further. Caller holds the row lock and saves."""
    if status == Message.Status.FAILED:
        if STATUS_RANK.get(message.status, 0) >= STATUS_RANK["delivered"] or message.status == Message.Status.FAILED:
            return False
        message.status, message.error_code, message.error_title = Message.Status.FAILED, error_code, error_title
    else:
        if message.status == Message.Status.FAILED or STATUS_RANK.get(status, 0) <= STATUS_RANK.get(message.status, 0):
            return False
        message.status = status
    message.status_at = at
    message.needs_reconciliation = False
    return True


STATUS_FIELDS = ["status", "status_at", "error_code", "error_title", "needs_reconciliation"]


CORRELATION = re.compile(rf"^{re.escape(KEY_PREFIX)}(\d+)$")  # the idempotency key outbound sends along
PENDING_LOCK = 0x5B_57_A7_05  # pg advisory lock class: the statuses kept for one (channel, external id)
PENDING_KEPT = timedelta(days=1)
PAYLOAD = ("contact_id", "error_code", "error_title")  # a kept status's other fields


def _correlated(pairs) -> dict[tuple[int, str], Message]:
    """Our messages named by the statuses' correlation ids (ours, echoed back), whatever their external
    id: the answer to their send was lost (timeout, crash) or is still on its way. Locked like the
    others; a send being recorded is waited for, so it is seen recorded."""
    wanted = {}
    for channel, event in pairs:
        match = CORRELATION.match(event.correlation_id or "")
        if match:
            wanted[int(match.group(1))] = (channel.id, event.correlation_id)
    if not wanted:
        return {}
    rows = (Message.objects.filter(pk__in=list(wanted), direction=Message.Direction.OUTBOUND)
            .select_for_update(of=("self",)).order_by("id"))
    return {wanted[m.id]: m for m in rows if m.channel_id == wanted[m.id][0]}


def _in_flight(message: Message, now) -> bool:
    """Its send is out and the answer not stored yet (the lease is alive): that answer comes first, so
    a status now would be overwritten by "sent". A lapsed lease means the worker died: not waited for."""
    return (message.status == Message.Status.SENDING and not message.external_id and not message.needs_reconciliation
            and message.lease_until is not None and message.lease_until > now)


def statuses_apply(pairs: Sequence[tuple[Channel, StatusUpdate]]) -> int:
    """Apply each status to its message (locked in id order); returns how many messages moved. A status
    naming no message yet, or one whose send's answer is on its way, is kept (statuses_pending_apply)."""
    if not pairs:
        return 0
    found = {(m.channel_id, m.external_id): m for m in Message.objects.filter(by_channel(pairs, lambda e: e.external_id))
             .select_for_update(of=("self",)).order_by("id")}
    correlated = _correlated([(c, e) for c, e in pairs if (c.id, e.external_id) not in found])
    now = timezone.now()
    for channel, event in pairs:  # a send whose answer never came is known by the platform's id from now on
        message = correlated.get((channel.id, event.correlation_id))
        if message is not None and not _in_flight(message, now):
            found.setdefault((channel.id, event.external_id), message)
    ready, waiting = [], []
    for channel, event in pairs:
        message = found.get((channel.id, event.external_id)) or correlated.get((channel.id, event.correlation_id))
        if message is None or _in_flight(message, now):
            waiting.append((channel, event))
        else:
            ready.append((channel, event, message))
    return _apply(ready + _keep(waiting))


def _apply(ready: list[tuple[Channel, StatusUpdate, Message]]) -> int:
    history, moved = [], {}
    for _channel, event, message in ready:
        if not message.external_id:  # named by our correlation id only
            message.external_id, message.defer_code, message.defer_reason = event.external_id, "", ""
        history.append(MessageEvent(message=message, status=event.status, at=event.timestamp, detail=event.error_title[:300]))
        if status_advance(message, event.status, event.timestamp, error_code=event.error_code, error_title=event.error_title):
            moved[message.id] = message
    MessageEvent.objects.bulk_create(history)
    if not moved:
        return 0
    fields = [*STATUS_FIELDS, "external_id", "defer_code", "defer_reason"]
    copy_update(Message, ["id", *fields], [(m.id, *(getattr(m, f) for f in fields)) for m in moved.values()])
    audiences = audiences_of(Conversation.objects.filter(pk__in={m.conversation_id for m in moved.values()}).select_related("rep"))
    by_conversation = defaultdict(list)
    for message in moved.values():
        by_conversation[message.conversation_id].append(("message.updated", message_payload(message)))
    emit_each((events, audiences[cid]) for cid, events in by_conversation.items())
    for message in moved.values():
        hooks.message_status_changed.call(message=message)
        log.info("status applied", message=message.id, conversation=message.conversation_id, status=message.status)
    return len(moved)


# ---- statuses that come before their send's answer (the module's docstring) ---------------------


def _lock_keys(keys: set[tuple[int, str]]) -> None:
    if keys:
        channel_ids, external_ids = zip(*sorted(keys), strict=True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, k) FROM (SELECT DISTINCT hashtext(c::text || ':' || e) AS k"
                           " FROM unnest(%s::bigint[], %s::text[]) AS t(c, e)) AS s ORDER BY k",
                           [PENDING_LOCK, list(channel_ids), list(external_ids)])


def _keep(waiting: list[tuple[Channel, StatusUpdate]]) -> list[tuple[Channel, StatusUpdate, Message]]:
    """Keep the statuses that name no recorded message; returns those whose send was recorded (and
    committed) since they were first looked up. skip_locked: never wait on a row while holding the
    locks; a message locked elsewhere keeps its status for the sweep."""
    if not waiting:
        return []
    _lock_keys({(c.id, e.external_id) for c, e in waiting})
    late = {(m.channel_id, m.external_id): m for m in Message.objects.filter(by_channel(waiting, lambda e: e.external_id))
            .exclude(external_id="").select_for_update(of=("self",), skip_locked=True).order_by("id")}
    ready, kept = [], []
    for channel, event in waiting:
        message = late.get((channel.id, event.external_id))
        if message is not None:
            ready.append((channel, event, message))
            continue
        kept.append(PendingStatus(channel=channel, external_id=event.external_id[:200], correlation=event.correlation_id[:200],
                                  status=event.status, at=event.timestamp,
                                  payload={"contact_id": event.contact_id, "error_code": event.error_code,
                                           "error_title": event.error_title}))
        log.info("status kept until its message is known", channel=channel.id, external_id=event.external_id,
                 correlation=event.correlation_id, status=event.status)
    PendingStatus.objects.bulk_create(kept)
    return ready


def statuses_pending_apply(*, message_ids: list[int]) -> int:
    """Apply and delete the kept statuses naming these messages, by external id or correlation id;
    returns how many messages moved. Two statements when there are none (the usual case), whatever
    the number of messages. Caller holds the transaction and the messages' row locks."""
    if not message_ids:
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, k) FROM (SELECT DISTINCT hashtext(channel_id::text || ':' || external_id)"
                       " AS k FROM inbox_message WHERE id = ANY(%s) AND external_id <> '') AS s ORDER BY k",
                       [PENDING_LOCK, list(message_ids)])
        cursor.execute(
            "DELETE FROM inbox_pendingstatus AS p USING inbox_message AS m WHERE m.id = ANY(%s) AND p.channel_id = m.channel_id"
            " AND (p.correlation = %s || m.id::text OR (m.external_id <> '' AND p.external_id = m.external_id))"
            " RETURNING p.id, p.channel_id, p.external_id, p.correlation, p.status, p.at, p.payload::text",
            [list(message_ids), KEY_PREFIX],
        )
        rows = sorted(cursor.fetchall(), key=lambda row: (row[5], row[0]))  # in the platform's order
    if not rows:
        return 0
    channels = Channel.objects.in_bulk({row[1] for row in rows})
    return statuses_apply([
        (channels[channel_id], StatusUpdate(channel_key="", external_id=external_id, status=status, timestamp=at,
                                            correlation_id=correlation, **{k: str(json.loads(payload).get(k, "")) for k in PAYLOAD}))
        for _, channel_id, external_id, correlation, status, at, payload in rows
    ])


def statuses_pending_sweep(*, now=None) -> int:
    """Beat's catch-up (messages_reconcile_expired): apply the kept statuses whose message can take
    them now (a message parked after a crash, a send recorded while its status was being kept) and
    drop those older than a day. Messages another transaction holds are left for the next run."""
    now = now or timezone.now()
    with transaction.atomic():
        PendingStatus.objects.filter(created_at__lt=now - PENDING_KEPT).delete()
        with connection.cursor() as cursor:
            cursor.execute(  # named by external id, or by correlation id and not in flight (_in_flight)
                "SELECT m.id FROM inbox_message AS m WHERE m.id IN ("
                " SELECT m.id FROM inbox_pendingstatus AS p JOIN inbox_message AS m ON m.channel_id = p.channel_id"
                "  AND m.external_id = p.external_id AND m.external_id <> ''"
                " UNION SELECT m.id FROM inbox_pendingstatus AS p JOIN inbox_message AS m"
                "  ON m.id = substring(p.correlation FROM %s)::bigint AND m.channel_id = p.channel_id)"
                " AND NOT (m.status = 'sending' AND m.external_id = '' AND NOT m.needs_reconciliation"
                "  AND COALESCE(m.lease_until > %s, false)) ORDER BY m.id",
                [f"^{KEY_PREFIX}([0-9]{{1,18}})$", now],
            )
            ids = [row[0] for row in cursor.fetchall()]
        locked = list(Message.objects.filter(pk__in=ids).select_for_update(of=("self",), skip_locked=True)
                      .order_by("id").values_list("id", flat=True))
        return statuses_pending_apply(message_ids=locked)
