"""Messages and conversations written for callers outside the inbox: the bulk changes campaigns
make (plan, park, requeue, withdraw, re-plan, re-prioritize) and the admin console's saves.

The bulk functions are set-based, a few statements per call however many rows, and take plain ids
and rows: they know nothing of campaigns. A bulk change of waiting messages (park, requeue,
withdraw, re-plan) emits one summarized `messages.changed` per conversation (core/events.py),
grouped into one outbox row per rep's audience, never one `message.updated` per message: a
10,000-contact campaign paused is 10,000 small events per watcher, relayed in batches. Planned
inserts and re-prioritizing emit nothing (no payload shows a planned row or a priority); once a
message is actually sent, the dispatch path emits its `message.updated`.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.db.models.expressions import Combinable

from core.copy import copy_insert
from core.realtime import emit_many
from inbox.models import Conversation, Message
from inbox.selectors import audience_user_ids
from salesreps.models import SalesRep

WAITING = (Message.Status.QUEUED, Message.Status.DEFERRED)
# A planned message's row, in this order (direction and status are the inbox's: outbound, queued).
PLANNED_MESSAGE_COLUMNS = ("id", "conversation_id", "channel_id", "body", "template_id", "variables", "sender_id",
                           "idempotency_key", "due_at", "priority", "campaign_recipient_id")
PREVIEW_LENGTH = Conversation._meta.get_field("last_message_preview").max_length

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
    by_rep: dict[int | None, list[tuple[str, dict]]] = defaultdict(list)
    for conversation_id, changes in by_conversation.items():
        by_rep[rep_of_conversation[conversation_id]].append(
            ("messages.changed", {"conversation_id": conversation_id, "messages": changes}))
    reps = SalesRep.objects.in_bulk([r for r in by_rep if r is not None])
    for rep_id, events in by_rep.items():
        emit_many(events, audience_user_ids(Conversation(rep=reps.get(rep_id))))


def _waiting(message_ids: MessageIds) -> QuerySet[Message]:
    ids = message_ids if isinstance(message_ids, QuerySet) else list(message_ids)
    return Message.objects.filter(pk__in=ids, status__in=WAITING)


# ---- planned rows ----------------------------------------------------------------------------


def conversations_open_planned(*, channel_id: int, rows: Sequence[tuple[int, int | None, str]]) -> None:
    """Open one conversation per row, (contact id, rep id or None, preview), on the channel, in one
    COPY. One that inbound processing opened meanwhile wins the unique constraint and is kept as it
    is. Emits nothing: a campaign of 100,000 would flood the reps' inboxes with
    `conversation.created`; the conversations appear when the inbox loads, their messages' events
    when they are sent. Caller is inside a transaction."""
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


def conversations_assign_planned(*, assignments: Sequence[tuple[int, int]]) -> int:
    """Each (conversation id, rep id): the conversation takes the rep if it still has none; one
    assigned meanwhile keeps its rep. One UPDATE. Emits nothing, for the reason
    conversations_open_planned gives: the planner assigns thousands at once."""
    if not assignments:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE inbox_conversation AS c SET rep_id = t.rep_id FROM unnest(%s::bigint[], %s::bigint[]) AS t(id, rep_id)"
            " WHERE c.id = t.id AND c.rep_id IS NULL",
            [[a[0] for a in assignments], [a[1] for a in assignments]],
        )
        return cursor.rowcount


def messages_insert_planned(*, rows: Iterable[tuple]) -> None:
    """Insert planned outbound messages, queued, in one COPY; each row holds the values of
    PLANNED_MESSAGE_COLUMNS in that order, its id reserved from the message sequence. Emits
    nothing: the campaign's conversations appear when their message is sent (dispatch emits
    `message.updated` then); an event per planned message would multiply the work of a
    10,000-message campaign for no reader. Caller is inside a transaction."""
    copy_insert(Message, PLANNED_MESSAGE_COLUMNS, rows,
                fixed={"direction": Message.Direction.OUTBOUND.value, "status": Message.Status.QUEUED.value})


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
