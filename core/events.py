"""Every socket event and its payload type: the real-time contract (DESIGN.md)."""
from __future__ import annotations

from typing import TypedDict


class MessagePayload(TypedDict):
    id: int
    conversation_id: int
    channel_id: int
    direction: str
    status: str
    kind: str
    body: str
    media_url: str
    media_type: str
    media_filename: str
    external_id: str
    defer_code: str
    defer_reason: str
    error_code: str
    error_title: str
    latitude: float | None
    longitude: float | None
    created_at: str
    sent_at: str | None
    sender_id: int | None


class ConversationPayload(TypedDict):
    id: int
    contact_id: int
    contact_name: str
    channel_id: int
    channel_kind: str
    rep_id: int | None
    status: str
    unread_count: int
    last_message_at: str | None
    last_message_preview: str
    last_inbound_at: str | None


class MessageChange(TypedDict):
    id: int
    status: str
    defer_code: str
    defer_reason: str


class MessagesChangedPayload(TypedDict):
    """A bulk change of one conversation's waiting messages (messages planned by a campaign, a
    campaign paused, resumed or cancelled, slots recycled, a sequence stopped): one event per
    conversation instead of one per message. A message a client has not seen yet (a planned one) is
    listed with its state only: the client fetches it (REST) if it shows that conversation."""

    conversation_id: int
    messages: list[MessageChange]


class ConversationsChangedPayload(TypedDict):
    """Conversations opened or assigned in bulk (the campaign planner), each as it is now: a batch
    of at most 100 per event (a frame of some 40 KB) instead of one `conversation.created` or
    `conversation.assigned` per conversation. A client upserts each as it would a
    `conversation.updated`, so a new conversation in its scope appears in its list."""

    conversations: list[ConversationPayload]


class AssignedPayload(TypedDict):
    conversation: ConversationPayload
    previous_rep_id: int | None


class PresencePayload(TypedDict):
    rep_id: int
    online: bool
    available: bool


class TypingPayload(TypedDict):
    conversation_id: int
    rep_id: int | None  # None: an admin without a rep
    name: str  # the typist's display name, shown as "Maya is typing…"


class ActivityPayload(TypedDict):
    """An activity request (a like, a comment, a broadcast…) as it moves: queued, deferred with
    its reason, done or failed (inbox.services.activities)."""

    id: int
    rep_channel_id: int
    activity: str
    target: str
    status: str
    defer_code: str
    defer_reason: str
    error_code: str
    error_title: str
    due_at: str | None
    performed_at: str | None


class CampaignProgressPayload(TypedDict):
    """A campaign's figures as they are now, to the managers of its team and the admins, sent after
    the change commits and coalesced (a burst of sends and statuses is one event): campaigns.services.progress.
    `progress` holds planned, waiting, sent, delivered, read, replied, failed, skipped, cancelled;
    `reasons` the counts by reason of skipped, failed and cancelled recipients."""

    campaign_id: int
    team_id: int | None
    status: str
    recipients: int
    by_state: dict[str, int]
    progress: dict[str, int]
    reasons: dict[str, dict[str, int]]
    replied: int
    next_send_at: str | None


EVENTS: dict[str, type] = {
    "message.created": MessagePayload,
    "message.updated": MessagePayload,
    "conversation.created": ConversationPayload,
    "conversation.updated": ConversationPayload,
    "conversation.assigned": AssignedPayload,
    "messages.changed": MessagesChangedPayload,
    "conversations.changed": ConversationsChangedPayload,
    "rep.presence": PresencePayload,
    "activity.updated": ActivityPayload,
    "campaign.progress": CampaignProgressPayload,
    "typing": TypingPayload,
}
# Ephemeral events are not stored and carry no seq.
EPHEMERAL = frozenset({"typing"})


def check_payload(name: str, data: dict) -> None:
    """Services call this (through emit) so a payload that drifts from its type fails loudly in tests."""
    if name not in EVENTS:
        raise ValueError(f"unknown event {name!r}")
    missing = set(EVENTS[name].__annotations__) - set(data)
    if missing:
        raise ValueError(f"event {name} is missing {sorted(missing)}")
