"""Edits made in the Django admin go through here: saved under the row lock, then emitted like any other change."""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import transaction
from django.db.models import Model

from core.logs import entity_log
from core.realtime import emit
from inbox.models import Conversation, Message
from inbox.payloads import conversation_payload, message_payload
from inbox.selectors import audience_user_ids

log = entity_log("messages")
conversation_log = entity_log("conversations")

def _user_id(user) -> int | None:
    return getattr(user, "id", None)


def _model_fields(model: type[Model], changed: Iterable[str]) -> list[str]:
    names = {f.name for f in model._meta.concrete_fields if not f.primary_key}
    return [name for name in changed if name in names]


def _conversation(conversation_id: int) -> Conversation:
    return Conversation.objects.select_related("contact", "channel", "rep").get(pk=conversation_id)


@transaction.atomic
def conversation_admin_create(*, conversation: Conversation, by_user) -> Conversation:
    """Save a conversation added in the admin; emits `conversation.created` to its audience."""
    conversation.save()
    fresh = _conversation(conversation.pk)
    emit("conversation.created", conversation_payload(fresh), audience_user_ids(fresh))
    conversation_log.info("conversation created in admin", conversation=fresh.id, rep=fresh.rep_id, by_user=_user_id(by_user))
    return fresh


@transaction.atomic
def conversation_admin_update(*, conversation: Conversation, changed: Iterable[str], by_user) -> Conversation:
    """Save the fields the admin form changed (only those: a concurrent inbound message's unread
    count is kept) under the row lock. A new rep emits `conversation.assigned` to the previous and
    the new audience, as conversation_assign does; any other change `conversation.updated`."""
    fields = _model_fields(Conversation, changed)
    previous = Conversation.objects.select_for_update(of=("self",)).select_related("rep").get(pk=conversation.pk)
    if not fields:
        return conversation
    conversation.save(update_fields=fields)
    fresh = _conversation(conversation.pk)
    if "rep" in fields:
        audience = set(audience_user_ids(previous)) | set(audience_user_ids(fresh))
        emit("conversation.assigned", {"conversation": conversation_payload(fresh), "previous_rep_id": previous.rep_id},
             sorted(audience))
    else:
        emit("conversation.updated", conversation_payload(fresh), audience_user_ids(fresh))
    conversation_log.info("conversation changed in admin", conversation=fresh.id, fields=",".join(fields), by_user=_user_id(by_user))
    return fresh


@transaction.atomic
def conversations_admin_delete(*, conversation_ids: Sequence[int], by_user) -> int:
    """Delete conversations (and their messages) from the admin. Emits nothing: the real-time
    contract has no deletion event; clients drop them on their next load."""
    deleted, _ = Conversation.objects.filter(pk__in=list(conversation_ids)).delete()
    conversation_log.info("conversations deleted in admin", conversations=",".join(map(str, conversation_ids)), by_user=_user_id(by_user))
    return deleted


@transaction.atomic
def message_admin_create(*, message: Message, by_user) -> Message:
    """Save a message added in the admin; emits `message.created` to its conversation's audience."""
    message.save()
    emit("message.created", message_payload(message), audience_user_ids(_conversation(message.conversation_id)))
    log.info("message created in admin", message=message.id, conversation=message.conversation_id, by_user=_user_id(by_user))
    return message


@transaction.atomic
def message_admin_update(*, message: Message, changed: Iterable[str], by_user) -> Message:
    """Save the fields the admin form changed under the row lock (a worker sending it holds that
    lock); emits `message.updated` to the conversation's audience, and to the previous
    conversation's when the message was moved."""
    fields = _model_fields(Message, changed)
    previous_conversation_id = (Message.objects.select_for_update(of=("self",)).values_list("conversation_id", flat=True)
                                .get(pk=message.pk))
    if not fields:
        return message
    message.save(update_fields=fields)
    audience = set(audience_user_ids(_conversation(message.conversation_id)))
    if previous_conversation_id != message.conversation_id:
        audience |= set(audience_user_ids(_conversation(previous_conversation_id)))
    emit("message.updated", message_payload(message), sorted(audience))
    log.info("message changed in admin", message=message.id, fields=",".join(fields), by_user=_user_id(by_user))
    return message


@transaction.atomic
def messages_admin_delete(*, message_ids: Sequence[int], by_user) -> int:
    """Delete messages (and their attempts and events) from the admin. Emits nothing: the
    real-time contract has no deletion event; clients drop them on their next load."""
    deleted, _ = Message.objects.filter(pk__in=list(message_ids)).delete()
    log.info("messages deleted in admin", messages=",".join(map(str, message_ids)), by_user=_user_id(by_user))
    return deleted
