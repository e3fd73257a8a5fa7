"""Event payloads, shaped once for sockets and shared by REST serializers."""
from __future__ import annotations

from django.db.models import QuerySet

from core.events import ConversationPayload, MessagePayload
from inbox.models import Conversation, Message
from inbox.rules import ReplyWindow


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def message_payload(message: Message) -> MessagePayload:
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "channel_id": message.channel_id,
        "direction": message.direction,
        "status": message.status,
        "kind": message.kind,
        "body": message.body,
        "media_url": message.media_url,
        "media_type": message.media_type,
        "media_filename": message.media_filename,
        "external_id": message.external_id,
        "defer_code": message.defer_code,
        "defer_reason": message.defer_reason,
        "error_code": message.error_code,
        "error_title": message.error_title,
        "latitude": message.latitude,
        "longitude": message.longitude,
        "created_at": _iso(message.created_at),
        "sent_at": _iso(message.sent_at),
        "sender_id": message.sender_id,
    }


def _contact_name(name: str, phone: str, email: str, contact_id: int) -> str:
    return name or phone or email or f"contact {contact_id}"


def conversation_payload(conversation: Conversation) -> ConversationPayload:
    contact = conversation.contact
    return {
        "id": conversation.id,
        "contact_id": conversation.contact_id,
        "contact_name": _contact_name(contact.name, contact.phone, contact.email, contact.id),
        "channel_id": conversation.channel_id,
        "channel_kind": conversation.channel.kind,
        "rep_id": conversation.rep_id,
        "status": conversation.status,
        "unread_count": conversation.unread_count,
        "last_message_at": _iso(conversation.last_message_at),
        "last_message_preview": conversation.last_message_preview,
        "last_inbound_at": _iso(conversation.last_inbound_at),
    }


def reply_window_payload(window: ReplyWindow) -> dict:
    return {"applies": window.applies, "open": window.open, "last_inbound_at": _iso(window.last_inbound_at),
            "closes_at": _iso(window.closes_at)}


_PAYLOAD_VALUES = ("id", "contact_id", "contact__name", "contact__phone", "contact__email", "channel_id", "channel__kind",
                   "rep_id", "status", "unread_count", "last_message_at", "last_message_preview", "last_inbound_at")


def conversation_payloads(conversations: QuerySet[Conversation]) -> list[ConversationPayload]:
    """conversation_payload of every conversation of the queryset, in id order, from one query of
    plain values: bulk writers shape thousands at a time without building model instances."""
    return [{
        "id": id_, "contact_id": contact_id, "contact_name": _contact_name(name, phone, email, contact_id),
        "channel_id": channel_id, "channel_kind": kind, "rep_id": rep_id, "status": status, "unread_count": unread,
        "last_message_at": _iso(last_at), "last_message_preview": preview, "last_inbound_at": _iso(inbound_at),
    } for (id_, contact_id, name, phone, email, channel_id, kind, rep_id, status, unread, last_at, preview, inbound_at)
        in conversations.order_by("id").values_list(*_PAYLOAD_VALUES)]
