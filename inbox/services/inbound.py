"""Inbound events applied set-based: the messages and statuses of hundreds of webhooks in a few
statements per batch, not ~19 per event (bench/DECISIONS.md).

The guarantees are those of inbox/services/messages.py, which still handles what a batch cannot
take in bulk: a first message from someone (contact resolution under its advisory lock, a new
conversation and its assignment), read watermarks and opt-outs. Here:
- a message is stored once per (channel, external id): a redelivery in the batch or already
  stored is skipped, and a concurrent writer that wins the unique constraint fails the batch,
  which the pipeline then replays event by event;
- conversations are locked in id order (two batches never deadlock on them), so unread counts
  stay exact, and their times never move back;
- a status never moves a message backwards; every status is kept in its history;
- each conversation's events go out as one outbox row to its audience, one INSERT per batch.
Caller holds the transaction (webhooks.pipeline.events_process_batch).
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from core.copy import copy_insert, copy_update, reserve_ids
from core.logs import entity_log
from core.realtime import emit_each
from inbox import hooks
from inbox.models import ContactIdentity, Conversation, Message, MessageEvent
from inbox.payloads import conversation_payload, message_payload
from inbox.selectors import audiences_of
from inbox.services import messages  # the module: tests replace its functions
from inbox.services.contacts import contact_freshen
from platforms.base import InboundMessage, NormalizedEvent, OptOut, StatusUpdate, Watermark
from salesreps.models import Channel

log = entity_log("messages")
Item = tuple[Channel, NormalizedEvent]


def events_apply(items: Sequence[Item]) -> None:
    """Apply routed items: messages first (a status may be about an echo in the same batch), then
    statuses, then watermarks and opt-outs in their order."""
    messages_receive([(c, e) for c, e in items if isinstance(e, InboundMessage)])
    statuses_apply([(c, e) for c, e in items if isinstance(e, StatusUpdate)])
    for channel, event in items:
        if isinstance(event, Watermark):
            messages.message_apply_watermark(channel=channel, event=event)
        elif isinstance(event, OptOut):
            messages.message_handle_opt_out(channel=channel, event=event)


def _by_channel(pairs, key) -> Q:
    """One OR-ed condition per channel: (channel, external id in …)."""
    ids: dict[int, set[str]] = defaultdict(set)
    for channel, event in pairs:
        ids[channel.id].add(key(event))
    condition = Q(pk__in=[])
    for channel_id, external_ids in ids.items():
        condition |= Q(channel_id=channel_id, external_id__in=sorted(external_ids))
    return condition


def messages_receive(pairs: Sequence[tuple[Channel, InboundMessage]]) -> int:
    """Store the new ones among `pairs`; returns how many were stored."""
    if not pairs:
        return 0
    stored = set(Message.objects.filter(_by_channel(pairs, lambda e: e.external_id)).values_list("channel_id", "external_id"))
    fresh, seen = [], set(stored)
    for channel, event in pairs:
        if (channel.id, event.external_id) not in seen:
            seen.add((channel.id, event.external_id))
            fresh.append((channel, event))
    identities = {
        (i.channel_id, i.external_id): i.contact
        for i in ContactIdentity.objects.filter(_by_channel(fresh, lambda e: e.contact_id)).select_related("contact")
    }
    known = [(c, e, identities[(c.id, e.contact_id)]) for c, e in fresh if (c.id, e.contact_id) in identities]
    first = [(c, e) for c, e in fresh if (c.id, e.contact_id) not in identities]
    # A person not seen on this channel: the one-by-one path (contact resolution under its
    # advisory lock), before any conversation is read here, so none is held stale in memory.
    for channel, event in first:
        messages.message_receive(channel=channel, event=event)
    conversations = {
        (c.contact_id, c.channel_id): c
        for c in Conversation.objects.filter(contact_id__in={k.id for _, _, k in known}, channel_id__in={c.id for c, _, _ in known})
        .exclude(status="resolved").select_for_update(of=("self",)).select_related("rep", "contact", "channel").order_by("id")
    }
    batched, unopened = [], []
    for channel, event, contact in known:
        conversation = conversations.get((contact.id, channel.id))
        if conversation and messages.own_echo(conversation, event):
            continue  # our own send, echoed before its answer was recorded
        if conversation:
            batched.append((channel, event, conversation))
        else:
            unopened.append((channel, event))
    stored = _store_known(batched)
    for channel, event in unopened:  # no open conversation: opened and assigned one by one
        messages.message_receive(channel=channel, event=event)
    return len(first) + stored + len(unopened)


def _store_known(known: list[tuple[Channel, InboundMessage, Conversation]]) -> int:
    if not known:
        return 0
    rows, changed = [], defaultdict(set)
    for channel, event, conversation in known:
        contact = conversation.contact
        contact_freshen(contact, name=event.contact_name, phone=event.contact_phone,
                        email=event.contact_id if channel.kind == "email" else "")
        message = messages.inbound_message(channel=channel, event=event, conversation=conversation)
        rows.append(message)
        changed[conversation.id].update(messages.conversation_after(conversation, message))
    _insert(rows)
    touched = {c.id: c for _, _, c in known}
    fields = sorted(set().union(*changed.values()))
    if fields:
        copy_update(Conversation, ["id", *fields], [(c.id, *(getattr(c, f) for f in fields)) for c in touched.values()])
    replies = _latest_replies(rows)
    _contacts_seen(replies)
    audiences = audiences_of(touched.values())
    by_conversation = defaultdict(list)
    for message in rows:
        by_conversation[message.conversation_id].append(("message.created", message_payload(message)))
    emit_each((events + [("conversation.updated", conversation_payload(touched[cid]))], audiences[cid])
              for cid, events in by_conversation.items())
    if replies:
        hooks.contacts_replied.call(replies=replies)
    for message in rows:
        messages.log_received(message, contact_id=touched[message.conversation_id].contact_id)
    return len(rows)


INSERTED = ("id", "conversation_id", "channel_id", "direction", "status", "kind", "body", "media_url", "media_type",
            "latitude", "longitude", "reply_to_external_id", "external_id", "subject", "sent_at", "status_at", "created_at")


def _insert(rows: list[Message]) -> None:
    """The new messages in one COPY (bulk_create spent most of a batch building SQL text), their
    ids reserved from the table's sequence first; other columns take their defaults."""
    now = timezone.now()
    for message, id_ in zip(rows, reserve_ids(Message, len(rows)), strict=True):
        message.id, message.created_at = id_, now
    copy_insert(Message, INSERTED, [tuple(getattr(m, name) for name in INSERTED) for m in rows])


def _latest_replies(rows: list[Message]) -> dict[int, object]:
    latest: dict[int, object] = {}
    for message in rows:
        if message.direction == Message.Direction.INBOUND:
            contact_id = message.conversation.contact_id
            if contact_id not in latest or message.status_at > latest[contact_id]:
                latest[contact_id] = message.status_at
    return latest


def _contacts_seen(replies: dict[int, object]) -> None:
    """Each contact's last inbound time, never moved back: one UPDATE."""
    if not replies:
        return
    ids = sorted(replies)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE inbox_contact AS c SET last_inbound_at = t.at FROM unnest(%s::bigint[], %s::timestamptz[]) AS t(id, at)"
            " WHERE c.id = t.id AND (c.last_inbound_at IS NULL OR c.last_inbound_at < t.at)",
            [ids, [replies[i] for i in ids]],
        )


CORRELATION = re.compile(r"^switchboard-msg-(\d+)$")  # the idempotency key outbound sends along


def _correlated(pairs) -> dict[tuple[int, str], Message]:
    """Messages named by the statuses' correlation ids (ours, echoed back) that have no external id
    yet: the answer to their send was lost (timeout, crash). Locked like the others."""
    wanted = {}
    for channel, event in pairs:
        match = CORRELATION.match(event.correlation_id or "")
        if match:
            wanted[int(match.group(1))] = (channel.id, event.correlation_id)
    if not wanted:
        return {}
    rows = Message.objects.filter(pk__in=list(wanted), external_id="").select_for_update(of=("self",)).order_by("id")
    return {wanted[m.id]: m for m in rows if m.channel_id == wanted[m.id][0]}


def statuses_apply(pairs: Sequence[tuple[Channel, StatusUpdate]]) -> int:
    """Apply each status to its message (locked in id order); returns how many messages moved."""
    if not pairs:
        return 0
    found = {(m.channel_id, m.external_id): m for m in Message.objects.filter(_by_channel(pairs, lambda e: e.external_id))
             .select_for_update(of=("self",)).order_by("id")}
    correlated = _correlated([(c, e) for c, e in pairs if (c.id, e.external_id) not in found])
    history, moved = [], {}
    for channel, event in pairs:
        message = found.get((channel.id, event.external_id)) or correlated.get((channel.id, event.correlation_id))
        if message is not None and not message.external_id:  # a send whose answer never came: now it is known
            message.external_id, message.defer_code, message.defer_reason = event.external_id, "", ""
            found[(channel.id, event.external_id)] = message
        if message is None:
            log.warning("status for unknown message", channel=channel.id, external_id=event.external_id, status=event.status)
            continue
        history.append(MessageEvent(message=message, status=event.status, at=event.timestamp, detail=event.error_title[:300]))
        if messages.status_advance(message, event.status, event.timestamp, error_code=event.error_code,
                                   error_title=event.error_title):
            moved[message.id] = message
    MessageEvent.objects.bulk_create(history)
    if not moved:
        return 0
    fields = [*messages.STATUS_FIELDS, "external_id", "defer_code", "defer_reason"]
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
