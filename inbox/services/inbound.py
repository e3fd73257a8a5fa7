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
- statuses go to inbox/services/statuses.py: never backwards, each kept in its history, one
  that comes before its send's answer kept until that answer is recorded;
- each conversation's events go out as one outbox row to its audience, one INSERT per batch.
Caller holds the transaction (webhooks.pipeline.events_process_batch).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from django.db import connection
from django.utils import timezone

from core.copy import copy_insert, copy_update, reserve_ids
from core.logs import entity_log
from core.realtime import emit_each
from inbox import hooks
from inbox.models import ContactIdentity, Conversation, Message
from inbox.payloads import conversation_payload, message_payload
from inbox.selectors import audiences_of
from inbox.services import messages  # the module: tests replace its functions
from inbox.services.contacts import contact_freshen
from inbox.services.statuses import by_channel, statuses_apply
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


def messages_receive(pairs: Sequence[tuple[Channel, InboundMessage]]) -> int:
    """Store the new ones among `pairs`; returns how many were stored."""
    if not pairs:
        return 0
    stored = set(Message.objects.filter(by_channel(pairs, lambda e: e.external_id)).values_list("channel_id", "external_id"))
    fresh, seen = [], set(stored)
    for channel, event in pairs:
        if (channel.id, event.external_id) not in seen:
            seen.add((channel.id, event.external_id))
            fresh.append((channel, event))
    identities = {
        (i.channel_id, i.external_id): i.contact
        for i in ContactIdentity.objects.filter(by_channel(fresh, lambda e: e.contact_id)).select_related("contact")
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


INSERTED = ("id", "conversation_id", "channel_id", "direction", "status", "kind", "body", "media_url", "media_type", "media_filename",
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
