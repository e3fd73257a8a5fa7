"""Event payloads, shaped once for sockets and shared by REST serializers."""
from __future__ import annotations

from core.events import ConversationPayload, MessagePayload
from inbox.models import Conversation, Message


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def message_payload(message: Message) -> MessagePayload:
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "direction": message.direction,
        "status": message.status,
        "kind": message.kind,
        "body": message.body,
        "media_url": message.media_url,
        "media_type": message.media_type,
        "external_id": message.external_id,
        "defer_reason": message.defer_reason,
        "error_code": message.error_code,
        "error_title": message.error_title,
        "created_at": _iso(message.created_at),
        "sender_id": message.sender_id,
    }


def conversation_payload(conversation: Conversation) -> ConversationPayload:
    contact = conversation.contact
    return {
        "id": conversation.id,
        "contact_id": conversation.contact_id,
        "contact_name": contact.name or contact.phone or contact.email or f"contact {contact.id}",
        "channel_id": conversation.channel_id,
        "channel_kind": conversation.channel.kind,
        "rep_id": conversation.rep_id,
        "status": conversation.status,
        "unread_count": conversation.unread_count,
        "last_message_at": _iso(conversation.last_message_at),
        "last_message_preview": conversation.last_message_preview,
        "last_inbound_at": _iso(conversation.last_inbound_at),
    }
