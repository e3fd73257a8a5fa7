"""Messenger and Instagram messaging: one adapter, two configurations (`messenger`, `instagram`).

Both send `entry[].messaging[]` webhooks that differ only in `object` ("page", "instagram") and
take sends through the same Send API. channel_key is entry.id (the Page id, or the Instagram
professional account id); contact_id is the PSID or IGSID. Instagram reports reads per message
(`read.mid`, a StatusUpdate) where Messenger uses watermarks; both are handled here. Comments and
mentions (`changes[]`) are Ignored. Signature and handshake are Meta's and live in `meta`.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

import httpx

from . import meta
from .base import (
    Ignored,
    InboundMessage,
    NormalizedEvent,
    OptOut,
    PayloadError,
    RawRequest,
    SendResult,
    StatusUpdate,
    Watermark,
)
from .common import (
    dig,
    each_dict,
    get_dict,
    get_list,
    get_number,
    get_str,
    load_json_object,
    no_provider_template,
    unix_time,
    unsupported_template,
    with_keyword_opt_out,
)


def _messaging_type(config: dict) -> dict:
    """RESPONSE inside the 24-hour window of the person's last message; after it Meta accepts only
    a message tag, HUMAN_AGENT (a person answering, up to 7 days). The caller decided it may send."""
    if config.get("within_24h", True):
        return {"messaging_type": "RESPONSE"}
    return {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}


@dataclass(frozen=True)
class MetaMessaging:
    """The platforms.base.Adapter for one Meta messaging product."""

    name: str
    display_name: str  # in error titles
    expected_object: str  # the webhook's `object`
    # graph.facebook.com takes Page tokens; an Instagram-login token needs graph.instagram.com,
    # set per channel as config["api_base_url"].
    default_base_url: str = meta.GRAPH_BASE_URL
    idempotent: bool = False  # the Send API takes no idempotency key
    secret_names: tuple[str, ...] = meta.SECRET_NAMES
    signing_secret_names: tuple[str, ...] = meta.SIGNING_SECRET_NAMES
    handshake_secret_names: tuple[str, ...] = meta.HANDSHAKE_SECRET_NAMES

    def template_for(self, **template: object) -> None:
        return no_provider_template(**template)

    def verify(self, *, request: RawRequest, secrets: list[str], now: float) -> bool:
        return meta.verify(request=request, secrets=secrets, now=now)

    def dedup_key(self, *, request: RawRequest) -> str:
        return meta.dedup_key(request=request)

    def handshake(self, *, params: Mapping[str, str], verify_tokens: list[str]) -> str | None:
        return meta.handshake(params=params, verify_tokens=verify_tokens)

    def parse(self, *, request: RawRequest) -> list[NormalizedEvent]:
        return parse_messaging_webhook(request, expected_object=self.expected_object)

    def channel_candidates(self, *, request: RawRequest) -> list[str]:
        return []  # entry.id names the channel

    def secret_channel_name(self, *, request: RawRequest) -> str | None:
        return None  # any channel's app secret may have signed

    def replay_token(self, *, request: RawRequest) -> str:
        return ""  # the signature covers the body

    def address_of(self, *, contact_id: str) -> str:
        return ""  # a PSID / IGSID is scoped to the Page: it names no phone or address

    def contact_id_for(self, *, address: str) -> str:
        return ""

    def send(
        self,
        *,
        client: httpx.Client,
        base_url: str,
        config: dict,
        secrets: dict,
        to: str,
        text: str = "",
        template: dict | None = None,
        idempotency_key: str,
    ) -> SendResult:
        """POST {base_url}/v21.0/me/messages with the access token; `to` is the PSID or IGSID.
        Meta offers no idempotency key: the dispatcher's queued → sending → sent state machine is
        what prevents a second send."""
        if template is not None and not text:
            return unsupported_template(self.display_name)
        return meta.graph_post(
            client,
            f"{base_url.rstrip('/')}/{meta.GRAPH_VERSION}/me/messages",
            token=secrets.get("access_token", ""),
            payload={"recipient": {"id": to}, "message": {"text": text}, **_messaging_type(config)},
            external_id=lambda body: dig(body, "message_id"),
        )


messenger = MetaMessaging(name="messenger", display_name="Messenger", expected_object="page")
instagram = MetaMessaging(name="instagram", display_name="Instagram", expected_object="instagram")


# ---------------------------------------------------------------- messaging[] webhooks


def parse_messaging_webhook(request: RawRequest, *, expected_object: str) -> list[NormalizedEvent]:
    """Messenger ("page") and Instagram ("instagram") webhooks: every entry, every
    messaging/standby item and every change."""
    data = load_json_object(request.body)
    if data.get("object") != expected_object:
        raise PayloadError(f"object must be {expected_object!r}")
    events: list[NormalizedEvent] = []
    for where, entry in each_dict(get_list(data, "entry"), "entry"):
        channel_key = get_str(entry, "id", where, required=True)
        entry_time = entry.get("time")
        for item_where, item in each_dict(get_list(entry, "messaging", where), f"{where}.messaging"):
            events += parse_messaging_item(item, channel_key=channel_key, where=item_where, entry_time=entry_time)
        # standby: messages to a thread another app owns (handover protocol); not ours to act on.
        for _ in each_dict(get_list(entry, "standby", where), f"{where}.standby"):
            events.append(Ignored(event_type="standby"))
        for change_where, change in each_dict(get_list(entry, "changes", where), f"{where}.changes"):
            events.append(Ignored(event_type=get_str(change, "field", change_where) or "change"))
    return events


@dataclass(frozen=True)
class _Item:
    """One messaging[] item. Parties and time are read on demand: not every event has them
    (policy_enforcement has no sender, delivery may have no timestamp)."""

    channel_key: str
    where: str
    raw: dict
    entry_time: object

    def party(self, key: str) -> str:
        return get_str(get_dict(self.raw, key, self.where, required=True), "id", f"{self.where}.{key}", required=True)

    @property
    def sender(self) -> str:
        return self.party("sender")

    @property
    def recipient(self) -> str:
        return self.party("recipient")

    @property
    def timestamp(self) -> datetime:
        # Delivery events may omit their own timestamp; the entry's time is the next best.
        value = self.raw.get("timestamp", self.entry_time)
        if value is None:
            raise PayloadError(f"{self.where}.timestamp is missing")
        return unix_time(value, f"{self.where}.timestamp", millis=True)

    @property
    def millis(self) -> int:
        return round(self.timestamp.timestamp() * 1000)


def parse_messaging_item(item: dict, *, channel_key: str, where: str, entry_time: object) -> list[NormalizedEvent]:
    ctx = _Item(channel_key=channel_key, where=where, raw=item, entry_time=entry_time)
    for key, handler in _HANDLERS.items():
        if key in item:
            return handler(get_dict(item, key, where, required=True), ctx)
    # referral, account_linking, pass/take_thread_control, policy_enforcement, message_edit, …
    others = [key for key in item if key not in ("sender", "recipient", "timestamp")]
    return [Ignored(event_type=others[0] if others else "unknown")]


_MEDIA_ATTACHMENTS = {"image": "image", "audio": "audio", "video": "video", "file": "file"}


def _attachment_fields(attachment: dict, where: str) -> dict:
    kind = get_str(attachment, "type", where)
    payload = get_dict(attachment, "payload", where)
    url = get_str(payload, "url", f"{where}.payload")
    if kind in _MEDIA_ATTACHMENTS:
        return {"kind": "media", "media_type": _MEDIA_ATTACHMENTS[kind], "media_url": url, "raw_type": kind}
    if kind == "location":
        coordinates = get_dict(payload, "coordinates", f"{where}.payload")
        return {
            "kind": "location",
            "latitude": get_number(coordinates, "lat", f"{where}.payload.coordinates"),
            "longitude": get_number(coordinates, "long", f"{where}.payload.coordinates"),
            "raw_type": kind,
        }
    # share, story_mention, ig_reel, fallback, template, …: shown as a link, not as media we know.
    return {"kind": "unsupported", "media_url": url, "raw_type": kind or "attachment"}


def _message(body: dict, ctx: _Item) -> list[NormalizedEvent]:
    mid = get_str(body, "mid", f"{ctx.where}.message", required=True)
    if body.get("is_deleted") is True:
        return [Ignored(event_type="message_deleted", detail=mid)]
    echo = body.get("is_echo") is True
    fields: dict = {"kind": "text", "raw_type": "text"}
    attachments = get_list(body, "attachments", f"{ctx.where}.message")
    # One InboundMessage per message: the first attachment is its media.
    for attachment_where, attachment in each_dict(attachments[:1], f"{ctx.where}.message.attachments"):
        fields = _attachment_fields(attachment, attachment_where)
    if body.get("is_unsupported") is True:
        fields = {"kind": "unsupported", "raw_type": "unsupported"}
    message = InboundMessage(
        channel_key=ctx.channel_key,
        external_id=mid,
        contact_id=ctx.recipient if echo else ctx.sender,  # an echo goes from us to the contact
        timestamp=ctx.timestamp,
        text=get_str(body, "text", f"{ctx.where}.message"),
        reply_to=dig(body, "reply_to", "mid"),
        is_echo=echo,
        **fields,
    )
    return with_keyword_opt_out(message)


def _reaction(body: dict, ctx: _Item) -> list[NormalizedEvent]:
    target = get_str(body, "mid", f"{ctx.where}.reaction", required=True)
    removed = body.get("action") == "unreact"
    return [
        InboundMessage(
            channel_key=ctx.channel_key,
            # A reaction has no id of its own; this one is stable across redeliveries and
            # distinct for a later unreact of the same message.
            external_id=f"reaction:{ctx.sender}:{target}:{ctx.millis}",
            contact_id=ctx.sender,
            timestamp=ctx.timestamp,
            kind="reaction",
            text="" if removed else get_str(body, "emoji", f"{ctx.where}.reaction"),
            reaction_to=target,
            raw_type="unreact" if removed else "reaction",
        )
    ]


def _receipt(status: str) -> Callable[[dict, _Item], list[NormalizedEvent]]:
    """delivery / read: a watermark covers everything before it; mids (delivery) or mid
    (Instagram read) name single messages."""

    def handle(body: dict, ctx: _Item) -> list[NormalizedEvent]:
        where = f"{ctx.where}.{'delivery' if status == 'delivered' else 'read'}"
        events: list[NormalizedEvent] = []
        watermark = body.get("watermark")
        at = ctx.timestamp if watermark is None else unix_time(watermark, f"{where}.watermark", millis=True)
        if watermark is not None:
            events.append(Watermark(channel_key=ctx.channel_key, contact_id=ctx.sender, status=status, watermark=at))
        mids = get_list(body, "mids", where)
        if body.get("mid") is not None:
            mids = [*mids, body["mid"]]
        for index, mid in enumerate(mids):
            if not isinstance(mid, str) or not mid:
                raise PayloadError(f"{where}.mids[{index}] must be a message id")
            events.append(
                StatusUpdate(
                    channel_key=ctx.channel_key, external_id=mid, status=status, timestamp=at, contact_id=ctx.sender
                )
            )
        return events

    return handle


def _postback(body: dict, ctx: _Item) -> list[NormalizedEvent]:
    where = f"{ctx.where}.postback"
    message = InboundMessage(
        channel_key=ctx.channel_key,
        external_id=get_str(body, "mid", where) or f"postback:{ctx.sender}:{ctx.millis}",
        contact_id=ctx.sender,
        timestamp=ctx.timestamp,
        text=get_str(body, "title", where) or get_str(body, "payload", where),
        raw_type="postback",
    )
    return with_keyword_opt_out(message)


def _optin(body: dict, ctx: _Item) -> list[NormalizedEvent]:
    # Marketing-message subscriptions: only the "stop" is something we must act on.
    if body.get("notification_messages_status") == "STOP_NOTIFICATIONS":
        return [OptOut(channel_key=ctx.channel_key, contact_id=ctx.sender, reason="unsubscribe", timestamp=ctx.timestamp)]
    return [Ignored(event_type="optin", detail=get_str(body, "type", f"{ctx.where}.optin"))]


_HANDLERS: dict[str, Callable[[dict, _Item], list[NormalizedEvent]]] = {
    "message": _message,
    "reaction": _reaction,
    "delivery": _receipt("delivered"),
    "read": _receipt("read"),
    "postback": _postback,
    "optin": _optin,
}
