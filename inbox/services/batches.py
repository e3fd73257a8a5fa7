"""Messages and conversations written for callers outside the inbox: the bulk changes campaigns
make (plan, park, requeue, withdraw, re-plan, re-prioritize) and the admin console's saves.

The bulk functions are set-based, a few statements per call however many rows, and take plain ids
and rows: they know nothing of campaigns. Every one that changes what a socket shows emits,
summarized, grouped into one outbox row per audience (a rep's, or an unassigned team's) (core/events.py):
- planned inserts and bulk changes of waiting messages (park, requeue, withdraw, re-plan): one
  `messages.changed` per conversation, never one `message.created`/`message.updated` per message
  (a 10,000-contact campaign paused is 10,000 small events per watcher, relayed in batches);
- conversations the planner opens or assigns: `conversations.changed`, the conversations' payloads
  CONVERSATIONS_PER_EVENT at a time, so a watching inbox lists them without a reload.
Re-prioritizing emits nothing (no payload carries a priority). Once a message is actually sent,
the dispatch path emits its `message.updated`.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.db.models.expressions import Combinable, RawSQL
from django.db.models.functions import Coalesce

from core.copy import copy_insert
from core.realtime import emit_many
from inbox.models import Conversation, Message
from inbox.payloads import conversation_payloads
from inbox.selectors import audience_user_ids, team_audience
from salesreps.models import SalesRep

WAITING = (Message.Status.QUEUED, Message.Status.DEFERRED)
# A planned message's row, in this order (direction and status are the inbox's: outbound, queued).
PLANNED_MESSAGE_COLUMNS = ("id", "conversation_id", "channel_id", "body", "template_id", "variables", "sender_id",
                           "idempotency_key", "due_at", "priority", "campaign_recipient_id")
PREVIEW_LENGTH = Conversation._meta.get_field("last_message_preview").max_length
# Conversations per `conversations.changed`: ~400 bytes each, so a frame stays near 40 KB, far
# below the socket's frame limits, and a client applies a batch with one render.
CONVERSATIONS_PER_EVENT = 100

# Message ids: a list, or a lazy `values("message_id")` queryset, which keeps the UPDATE one
# statement with its subquery instead of fetching 100,000 ids first.
MessageIds = Iterable[int] | QuerySet


def _ids(message_ids: MessageIds) -> list[int]:
    """The waiting ones among `message_ids`, as a list: what a bulk change may touch and tell."""
    return list(_waiting(message_ids).values_list("id", flat=True))


def _emit_changed(message_ids: list[int], *, status: str | None = None) -> None:
    """One `messages.changed` per conversation of the messages that are now in `status` (all of
    them without it), one outbox row per rep's audience. Runs in the caller's transaction."""
    if not message_ids:
        return
    rows = Message.objects.filter(pk__in=message_ids)
    if status is not None:
        rows = rows.filter(status=status)
    by_conversation: dict[int, list[dict]] = defaultdict(list)
    rep_of_conversation: dict[int, int | None] = {}
    for id_, conversation_id, rep_id, state, code, reason in rows.order_by("id").values_list(
            "id", "conversation_id", "conversation__rep_id", "status", "defer_code", "defer_reason"):
        by_conversation[conversation_id].append({"id": id_, "status": state, "defer_code": code, "defer_reason": reason})
        rep_of_conversation[conversation_id] = rep_id
    _emit_messages_changed(by_conversation, rep_of_conversation)


def _emit_messages_changed(by_conversation: dict[int, list[dict]], rep_of_conversation: dict[int, int | None]) -> None:
    keys = _audience_keys(rep_of_conversation)
    by_key: dict[tuple, list[tuple[str, dict]]] = defaultdict(list)
    for conversation_id, changes in by_conversation.items():
        by_key[keys[conversation_id]].append(
            ("messages.changed", {"conversation_id": conversation_id, "messages": changes}))
    _emit_by_audience(by_key)


def _audience_keys(rep_of_conversation: dict[int, int | None]) -> dict[int, tuple[int | None, int | None]]:
    """conversation id → (its rep, None), or (None, its team) when unassigned: conversations with one
    key have one audience (inbox.selectors.audiences_of), so they share an outbox row."""
    unassigned = [c for c, rep_id in rep_of_conversation.items() if rep_id is None]
    teams = dict(Conversation.objects.filter(pk__in=_among(unassigned)).values_list(
        "id", Coalesce("contact__team_id", "channel__team_id"))) if unassigned else {}
    return {c: (rep_id, None) if rep_id is not None else (None, teams.get(c)) for c, rep_id in rep_of_conversation.items()}


def _emit_by_audience(by_key: dict[tuple[int | None, int | None], list[tuple[str, dict]]]) -> None:
    """Each key's events (_audience_keys) to its audience, in one outbox row per key."""
    reps = SalesRep.objects.in_bulk([rep_id for rep_id, _ in by_key if rep_id is not None])
    for (rep_id, team_id), events in by_key.items():
        audience = audience_user_ids(Conversation(rep=reps[rep_id])) if rep_id is not None else team_audience(team_id)
        emit_many(events, audience)


def _emit_conversations(conversations: QuerySet[Conversation]) -> None:
    """`conversations.changed` with the conversations as they are now, grouped by audience, in
    batches of CONVERSATIONS_PER_EVENT. Runs in the caller's transaction."""
    payloads = list(conversation_payloads(conversations))
    keys = _audience_keys({p["id"]: p["rep_id"] for p in payloads})
    by_key: dict[tuple, list[dict]] = defaultdict(list)
    for payload in payloads:
        by_key[keys[payload["id"]]].append(payload)
    _emit_by_audience({key: [("conversations.changed", {"conversations": group[i:i + CONVERSATIONS_PER_EVENT]})
                             for i in range(0, len(group), CONVERSATIONS_PER_EVENT)]
                       for key, group in by_key.items()})


def _among(ids: Sequence[int]) -> RawSQL:
    """`ids` as a set to filter on (`pk__in=_among(ids)`): joined as one array parameter, so
    100,000 ids are neither 100,000 bind parameters nor a plan kept from a small run."""
    return RawSQL("SELECT unnest(%s::bigint[])", [list(ids)])


def _waiting(message_ids: MessageIds) -> QuerySet[Message]:
    ids = message_ids if isinstance(message_ids, QuerySet) else list(message_ids)
    return Message.objects.filter(pk__in=ids, status__in=WAITING)


# ---- planned rows ----------------------------------------------------------------------------


def conversations_open_planned(*, channel_id: int, rows: Sequence[tuple[int, int | None, str]]) -> None:
    """Open one conversation per row, (contact id, rep id or None, preview), on the channel, in one
    COPY. One that inbound processing opened meanwhile wins the unique constraint and is kept as it
    is. Emits `conversations.changed` for the contacts' active conversations on the channel (a
    batch per event, not a `conversation.created` each: a campaign of 100,000 would flood the
    inboxes); one inbound opened meanwhile is in it too, which a client applies as an update.
    Caller is inside a transaction."""
    if not rows:
        return
    columns = ["contact_id", "rep_id", "last_message_preview"]
    fixed = {"channel_id": channel_id, "status": Conversation.Status.OPEN.value}

    def lines():
        return ((contact_id, rep_id, preview[:PREVIEW_LENGTH]) for contact_id, rep_id, preview in rows)

    try:
        with transaction.atomic():  # a savepoint: inbound processing may open one of them meanwhile
            copy_insert(Conversation, columns, lines(), fixed=fixed)
    except IntegrityError:
        copy_insert(Conversation, columns, lines(), ignore_conflicts=True, fixed=fixed)
    _emit_conversations(Conversation.objects.filter(channel_id=channel_id, contact_id__in=_among([r[0] for r in rows]))
                        .exclude(status=Conversation.Status.RESOLVED))


def conversations_assign_planned(*, assignments: Sequence[tuple[int, int]]) -> int:
    """Each (conversation id, rep id): the conversation takes the rep if it still has none; one
    assigned meanwhile keeps its rep. One UPDATE. Emits `conversations.changed` for the ones it
    assigned, to their new audience (the rep, the rep's team's managers, the admins), batched as
    conversations_open_planned does: the planner assigns thousands at once."""
    if not assignments:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE inbox_conversation AS c SET rep_id = t.rep_id FROM unnest(%s::bigint[], %s::bigint[]) AS t(id, rep_id)"
            " WHERE c.id = t.id AND c.rep_id IS NULL RETURNING c.id",
            [[a[0] for a in assignments], [a[1] for a in assignments]],
        )
        assigned = [row[0] for row in cursor.fetchall()]
    if assigned:
        _emit_conversations(Conversation.objects.filter(pk__in=_among(assigned)))
    return len(assigned)


def messages_insert_planned(*, rows: Iterable[tuple]) -> None:
    """Insert planned outbound messages, queued, in one COPY; each row holds the values of
    PLANNED_MESSAGE_COLUMNS in that order, its id reserved from the message sequence. Emits one
    `messages.changed` per conversation naming its new queued messages (a client showing that
    conversation fetches them), one outbox row per rep's audience: not a `message.created` per
    message. Caller is inside a transaction."""
    rows = list(rows)
    if not rows:
        return
    copy_insert(Message, PLANNED_MESSAGE_COLUMNS, rows,
                fixed={"direction": Message.Direction.OUTBOUND.value, "status": Message.Status.QUEUED.value})
    by_conversation: dict[int, list[dict]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r[0]):  # PLANNED_MESSAGE_COLUMNS: id, conversation_id, ...
        by_conversation[row[1]].append(
            {"id": row[0], "status": Message.Status.QUEUED.value, "defer_code": "", "defer_reason": ""})
    rep_of_conversation = dict(Conversation.objects.filter(pk__in=_among(list(by_conversation))).values_list("id", "rep_id"))
    _emit_messages_changed(by_conversation, rep_of_conversation)


# ---- status, due time and priority of waiting messages ---------------------------------------


def messages_park(*, message_ids: MessageIds, until: datetime, code: str, reason: str) -> int:
    """The waiting messages among `message_ids` are deferred until `until` (far ahead: claim_due
    never picks them) with the code and reason, in one UPDATE; a message already claimed
    (sending) or finished is left alone. Waits on a row a worker holds, then re-checks its status.
    Emits one messages.changed per conversation (see the module's docstring)."""
    ids = _ids(message_ids)
    moved = Message.objects.filter(pk__in=ids, status__in=WAITING).update(
        status=Message.Status.DEFERRED, due_at=until, defer_code=code, defer_reason=reason, lease_until=None)
    _emit_changed(ids, status=Message.Status.DEFERRED)
    return moved


def messages_requeue(*, message_ids: MessageIds, parked_code: str, due_at: datetime | Combinable) -> int:
    """The waiting messages among `message_ids` parked with `parked_code` go back to queued, due at
    `due_at`: a time, or an expression evaluated per row (say, the later of the row's window start
    and now), in one UPDATE. Emits one messages.changed per conversation."""
    ids = list(_waiting(message_ids).filter(defer_code=parked_code).values_list("id", flat=True))
    moved = Message.objects.filter(pk__in=ids, status__in=WAITING, defer_code=parked_code).update(
        status=Message.Status.QUEUED, due_at=due_at, defer_code="", defer_reason="",
    )
    _emit_changed(ids, status=Message.Status.QUEUED)
    return moved


def messages_withdraw(*, message_ids: MessageIds, reason: str, at: datetime, skip_locked: bool = False) -> int:
    """The waiting messages among `message_ids` are cancelled at `at`, with the reason, in one
    UPDATE. Without skip_locked the UPDATE waits for a row a worker holds and then re-checks its
    status (a message that went to sending meanwhile stays). With skip_locked, rows locked by
    someone else are left out instead, so the caller never waits on a send in flight (decide()
    holds those); then the caller must be inside a transaction, which keeps the locks until it
    ends. Emits one messages.changed per conversation."""
    fields = {"status": Message.Status.CANCELLED, "defer_code": "", "defer_reason": reason, "lease_until": None, "status_at": at}
    if not skip_locked:
        ids = _ids(message_ids)
        moved = Message.objects.filter(pk__in=ids, status__in=WAITING).update(**fields)
    else:
        ids = list(_waiting(message_ids).select_for_update(skip_locked=True).values_list("id", flat=True))
        moved = Message.objects.filter(pk__in=ids).update(**fields)
    _emit_changed(ids, status=Message.Status.CANCELLED)
    return moved


def messages_lock_waiting(*, message_ids: Iterable[int], exclude_code: str = "") -> set[int]:
    """Lock the waiting messages among `message_ids`, skipping rows someone else holds (the
    dispatcher's lock order: messages first) and, with exclude_code, messages deferred with that
    code; returns the ids locked. Caller is inside a transaction, which keeps the locks."""
    waiting = _waiting(message_ids).select_for_update(skip_locked=True)
    if exclude_code:
        waiting = waiting.exclude(defer_code=exclude_code)
    return set(waiting.values_list("id", flat=True))


def messages_replan(*, deferred: Sequence[tuple[int, datetime, str]] = (), withdrawn: Sequence[tuple[int, str]] = (),
                    code: str) -> int:
    """Move messages the caller locked (messages_lock_waiting) in one UPDATE: each (id, due time,
    reason) of `deferred` waits until its new due time with `code`; each (id, reason) of `withdrawn`
    is cancelled, its due time kept. Emits one messages.changed per conversation."""
    rows = [(i, Message.Status.DEFERRED.value, due, code, reason) for i, due, reason in deferred]
    rows += [(i, Message.Status.CANCELLED.value, None, "", reason) for i, reason in withdrawn]
    if not rows:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE inbox_message AS m SET status = t.status, due_at = COALESCE(t.due_at, m.due_at), defer_code = t.code,"
            " defer_reason = t.reason"
            " FROM unnest(%s::bigint[], %s::text[], %s::timestamptz[], %s::text[], %s::text[]) AS t(id, status, due_at, code, reason)"
            " WHERE m.id = t.id",
            [list(column) for column in zip(*rows, strict=True)],
        )
        moved = cursor.rowcount
    _emit_changed([row[0] for row in rows])
    return moved


def messages_reprioritize(*, contact_ids: Sequence[int], priority: int) -> int:
    """The contacts' waiting outbound messages take `priority`, in one UPDATE; rows a worker holds
    right now keep theirs (skip_locked), so the caller never waits on, or deadlocks with, a send in
    flight. Caller is inside a transaction. Emits nothing: no payload carries the priority."""
    waiting = list(Message.objects.select_for_update(skip_locked=True, of=("self",))
                   .filter(conversation__contact_id__in=contact_ids, direction=Message.Direction.OUTBOUND, status__in=WAITING)
                   .values_list("id", flat=True))
    return Message.objects.filter(pk__in=waiting).update(priority=priority)
