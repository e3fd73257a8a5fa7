"""Messages: inbound storage, status changes that never go backwards, outbound compose."""
from __future__ import annotations

import string

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.errors import AccessDenied
from core.logs import entity_log
from core.realtime import emit, emit_many
from inbox import hooks
from inbox.models import Contact, ContactIdentity, Conversation, Message, MessageEvent, Template
from inbox.payloads import conversation_payload, message_payload
from inbox.rules import not_after
from inbox.selectors import audience_user_ids
from inbox.services.contacts import contact_opt_out, contact_resolve
from inbox.services.conversations import conversation_for_contact, conversation_get_for
from inbox.services.outbound import message_enqueue
from inbox.services.statuses import STATUS_FIELDS, status_advance
from platforms.base import InboundMessage, OptOut, StatusUpdate, Watermark
from salesreps.models import Channel
from salesreps.selectors import rep_of

log = entity_log("messages")


def _preview(message: Message) -> str:
    if message.body:
        return message.body[:200]
    return f"[{message.media_type or message.kind}]"


def _emit_message(name: str, message: Message, conversation: Conversation) -> None:
    emit(name, message_payload(message), audience_user_ids(conversation))


@transaction.atomic
def message_receive(*, channel: Channel, event: InboundMessage) -> Message | None:
    """Store one inbound message (or an echo, as outbound) once per (channel, external id).

    The path of a first message from someone (inbox/services/inbound.py takes the known ones in
    batches). A concurrent duplicate that slips past the existence check hits the unique
    constraint and the whole event is retried by the sweep.
    """
    if Message.objects.filter(channel=channel, external_id=event.external_id).exists():
        return None
    contact = contact_resolve(
        channel=channel, external_id=event.contact_id, name=event.contact_name,
        phone=event.contact_phone, email=event.contact_id if channel.kind == "email" else "",
    )
    conversation, _created = conversation_for_contact(contact=contact, channel=channel, lock=True)
    if own_echo(conversation, event):
        return None
    message = inbound_message(channel=channel, event=event, conversation=conversation)
    message.save()
    conversation.save(update_fields=conversation_after(conversation, message))
    if message.direction == Message.Direction.INBOUND:
        Contact.objects.filter(pk=contact.pk).filter(
            Q(last_inbound_at__isnull=True) | Q(last_inbound_at__lt=message.status_at)).update(last_inbound_at=message.status_at)
    emit_many([("message.created", message_payload(message)), ("conversation.updated", conversation_payload(conversation))],
              audience_user_ids(conversation))
    if message.direction == Message.Direction.INBOUND:
        hooks.contacts_replied.call(replies={contact.id: message.status_at})
    log_received(message, contact_id=contact.id)
    return message


def own_echo(conversation: Conversation, event: InboundMessage) -> bool:
    """Meta echoes what the page sent, ours included, sometimes before the send's answer is
    recorded: an echo of a send of ours still waiting for that answer (same text, no external id
    yet) is not a second message; the answer records the external id. Echoes of what someone
    sent from Meta's own inbox are stored."""
    return event.is_echo and Message.objects.filter(
        conversation=conversation, direction=Message.Direction.OUTBOUND, status=Message.Status.SENDING,
        external_id="", body=event.text).exists()


def inbound_message(*, channel: Channel, event: InboundMessage, conversation: Conversation) -> Message:
    """The unsaved row of an inbound message (or an echo, as outbound)."""
    inbound = not event.is_echo
    at = not_after(event.timestamp, timezone.now())  # a platform clock ahead of ours must not pin the list
    body = event.text
    if event.subject:
        body = f"{event.subject}\n\n{body}" if body else event.subject
    return Message(
        conversation=conversation, channel=channel,
        direction=Message.Direction.INBOUND if inbound else Message.Direction.OUTBOUND,
        status=Message.Status.RECEIVED if inbound else Message.Status.SENT,
        kind=event.kind, body=body, media_url=event.media_url, media_type=event.media_type, media_filename=event.filename[:255],
        latitude=event.latitude, longitude=event.longitude,
        reply_to_external_id=event.reply_to or event.reaction_to, external_id=event.external_id, subject=event.subject[:300],
        sent_at=at, status_at=at,
    )


def conversation_after(conversation: Conversation, message: Message) -> list[str]:
    """Move the conversation (locked by the caller) past `message`; the fields that changed."""
    at, fields = message.status_at, []
    # A late or redelivered message never moves the conversation's times back.
    if conversation.last_message_at is None or at >= conversation.last_message_at:
        conversation.last_message_at, conversation.last_message_preview = at, _preview(message)
        fields += ["last_message_at", "last_message_preview"]
    if message.direction == Message.Direction.INBOUND:
        conversation.unread_count += 1  # exact: the caller holds the row lock
        fields.append("unread_count")
        if conversation.last_inbound_at is None or at > conversation.last_inbound_at:
            conversation.last_inbound_at = at
            fields.append("last_inbound_at")
        if conversation.status in ("resolved", "snoozed", "pending"):
            conversation.status, conversation.snoozed_until = "open", None  # a new message wakes it
            fields += ["status", "snoozed_until"]
    return fields


def log_received(message: Message, *, contact_id: int) -> None:
    log.info("message received" if message.direction == Message.Direction.INBOUND else "echo stored", message=message.id,
             conversation=message.conversation_id, contact=contact_id, channel=message.channel_id,
             external_id=message.external_id)


def _move_status(message: Message, status: str, at, *, error_code: str = "", error_title: str = "") -> bool:
    """Record the status in the message's history and apply it if it moves the message forward."""
    MessageEvent.objects.create(message=message, status=status, at=at, detail=error_title[:300])
    if not status_advance(message, status, at, error_code=error_code, error_title=error_title):
        return False
    message.save(update_fields=STATUS_FIELDS)
    return True


@transaction.atomic
def message_apply_status(*, channel: Channel, event: StatusUpdate) -> bool:
    message = Message.objects.select_for_update().filter(channel=channel, external_id=event.external_id).first()
    if message is None:
        log.warning("status for unknown message", channel=channel.id, external_id=event.external_id, status=event.status)
        return False
    moved = _move_status(message, event.status, event.timestamp, error_code=event.error_code, error_title=event.error_title)
    if moved:
        conversation = Conversation.objects.select_related("rep", "contact", "channel").get(pk=message.conversation_id)
        _emit_message("message.updated", message, conversation)
        _on_status(message)
        log.info("status applied", message=message.id, conversation=conversation.id, status=event.status)
    return moved


@transaction.atomic
def message_apply_watermark(*, channel: Channel, event: Watermark) -> int:
    """Messenger: every outbound message to the contact sent at or before the watermark."""

    identity = ContactIdentity.objects.filter(channel=channel, external_id=event.contact_id).first()
    if identity is None:
        return 0
    messages = Message.objects.select_for_update(of=("self",)).filter(
        channel=channel, conversation__contact_id=identity.contact_id, direction=Message.Direction.OUTBOUND,
        sent_at__lte=event.watermark, status__in=[Message.Status.SENT, Message.Status.DELIVERED],
    ).order_by("id")
    moved = 0
    for message in messages:
        if _move_status(message, event.status, event.watermark):
            conversation = Conversation.objects.select_related("rep", "contact", "channel").get(pk=message.conversation_id)
            _emit_message("message.updated", message, conversation)
            moved += 1
    return moved


def _on_status(message: Message) -> None:
    hooks.message_status_changed.call(message=message)


def message_handle_opt_out(*, channel: Channel, event: OptOut) -> None:
    contact = contact_resolve(channel=channel, external_id=event.contact_id)
    contact_opt_out(contact=contact, reason=event.reason)


def render_template(template: Template, variables: dict, language: str = "") -> tuple[str, list[str]]:
    """The rendered text and the names of variables it needs but was not given."""

    text = template.translations.get(language) or template.body
    names = [name for _, name, _, _ in string.Formatter().parse(text) if name]
    missing = sorted({n for n in names if n not in variables})
    if missing:
        return "", missing
    return text.format_map({k: str(v) for k, v in variables.items()}), []


@transaction.atomic
def message_compose(*, user, conversation_id: int, text: str = "", template_id: int | None = None,
                    variables: dict | None = None, idempotency_key: str = "") -> tuple[Message, bool]:
    """Queue an outbound message; the same idempotency key returns the first message (created=False)."""

    conversation = conversation_get_for(user=user, conversation_id=conversation_id, lock=True)
    if idempotency_key:
        existing = Message.objects.filter(conversation=conversation, idempotency_key=idempotency_key).first()
        if existing:
            return existing, False
    variables = variables or {}
    template = None
    if template_id is not None:
        template = Template.objects.filter(pk=template_id).first()
        if template is None:
            raise ValueError(f"template {template_id} does not exist")
        body, missing = render_template(template, variables, conversation.contact.language)
        if missing:
            raise ValueError(f"template {template.name!r} is missing variables: {', '.join(missing)}")
    else:
        body = text.strip()
        if not body:
            raise ValueError("text is empty: write a message or pick a template")
        if len(body) > 4096:
            raise ValueError("text is longer than 4096 characters")
    sender = rep_of(user)
    if conversation.rep_id is None and sender is None:
        raise AccessDenied("assign the conversation to a rep before sending")
    message = Message.objects.create(
        conversation=conversation, channel=conversation.channel, direction=Message.Direction.OUTBOUND, status=Message.Status.QUEUED,
        body=body, template=template, variables=variables, sender=sender, idempotency_key=idempotency_key,
        due_at=timezone.now(), priority=conversation.contact.lead_score,
    )
    conversation.last_message_at, conversation.last_message_preview = message.created_at, _preview(message)
    conversation.save(update_fields=["last_message_at", "last_message_preview"])
    # The conversation's preview moved too: the list shows it (one outbox row for both).
    emit_many([("message.created", message_payload(message)), ("conversation.updated", conversation_payload(conversation))],
              audience_user_ids(conversation))
    message_enqueue(message_id=message.id)
    log.info("message queued", message=message.id, conversation=conversation.id, rep=conversation.rep_id, by_user=user.id)
    return message, True


def typing_notify(*, user, conversation_id: int) -> None:
    """Tells the others who may see the conversation (its audience, decided now) who is typing, by name."""
    conversation = conversation_get_for(user=user, conversation_id=conversation_id)
    rep = rep_of(user)
    name = (rep.full_name if rep else "") or user.get_full_name() or user.get_username()
    audience = [u for u in audience_user_ids(conversation) if u != user.id]
    with transaction.atomic():
        emit("typing", {"conversation_id": conversation.id, "rep_id": rep.id if rep else None, "name": name}, audience)
