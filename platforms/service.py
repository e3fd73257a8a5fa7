"""Our own channel services (internal bridges to any other network), both directions.

Inbound: `POST /webhooks/service/` with headers

    X-Switchboard-Channel: <channel name>           (channel_key; matched case-insensitively)
    X-Switchboard-Signature: t=<unix s>,v1=<hex>    (hex HMAC-SHA256(secret, f"{t}.".encode() + body);
                                                     several v1= allowed while a secret rotates;
                                                     |now - t| <= 300 s)
    X-Switchboard-Event-Id: <optional>              (stored with the event, but not signed, so not the
                                                     dedup key: the events' "id"s are, else the body's sha256)

and a JSON body; "timestamp" is unix seconds or ISO 8601 with an offset:

    {"events": [
      {"id": "evt_1", "type": "message", "timestamp": 1718000000,
       "message_id": "m-1", "contact_id": "u-42", "contact_name": "Ada", "contact_phone": "+4915112345678",
       "text": "Hi", "media_url": "", "media_type": "", "mime_type": "", "reply_to": "", "is_echo": false},
      {"id": "evt_2", "type": "status", "timestamp": 1718000005, "message_id": "<id our send got back>",
       "status": "sent" | "delivered" | "read" | "failed", "contact_id": "u-42",
       "error_code": "", "error_title": "", "idempotency_key": "<the key our send carried>"},
      {"id": "evt_3", "type": "opt_out", "timestamp": 1718000009, "contact_id": "u-42",
       "reason": "keyword" | "unsubscribe" | "complaint"}
    ]}

Only "type", "timestamp", "message_id" (message, status), "contact_id" (message, opt_out) and
"status" are required. Other types are Ignored, so services may send more than we read. A status
should echo the send's "idempotency_key": it names our message even when the service's answer to
the send (its "id") never reached us, or has not been stored yet.

Activities (#18): `POST {internal URL}/activities`, signed the same way, with the same headers and
body `{"channel", "activity", "target", "text", "rep", "idempotency_key"}` — a like, a comment, a
broadcast performed by the service for the rep; answers as for messages.

Outbound: `POST {internal URL}/messages`, signed the same way, with `Idempotency-Key` and
`X-Switchboard-Channel` headers and body `{"channel", "to", "text", "template",
"idempotency_key"}`. The service answers 2xx `{"id": "<message id>"}`, or an error status
with `{"error": {"code": "...", "message": "..."}}`; 429 and 5xx are retried.
"""
from __future__ import annotations

import json
import time
from datetime import datetime

import httpx

from .base import (
    Ignored,
    InboundMessage,
    NormalizedEvent,
    OptOut,
    PayloadError,
    RawRequest,
    SendResult,
    StatusUpdate,
)
from .common import (
    dig,
    each_dict,
    get_list,
    get_str,
    hmac_hex,
    load_json_object,
    matches_any,
    no_provider_template,
    no_replay_token,
    own_channel_keys,
    post,
    sha256_hex,
    unix_time,
    usable,
    with_keyword_opt_out,
)

name = "service"
default_base_url = ""  # each channel's internal URL
idempotent = True  # services must deduplicate on Idempotency-Key (the contract above)
secret_names = ("secret",)
signing_secret_names = ("secret",)
handshake_secret_names = ()
handshake = None
template_for = no_provider_template


def address_of(*, contact_id: str) -> str:
    return ""  # a channel service names its contacts in its own terms


def contact_id_for(*, address: str) -> str:
    return ""
channel_candidates = own_channel_keys  # X-Switchboard-Channel names the channel

TOLERANCE_SECONDS = 300
STATUSES = ("sent", "delivered", "read", "failed")
OPT_OUT_REASONS = ("keyword", "unsubscribe", "complaint")


def sign(*, secret: str, body: bytes, timestamp: int) -> str:
    """The X-Switchboard-Signature header value for `body` at `timestamp`."""
    return f"t={timestamp},v1={hmac_hex(secret, f'{timestamp}.'.encode() + body)}"


def verify(*, request: RawRequest, secrets: list[str], now: float) -> bool:
    timestamp, given = "", []
    for part in request.headers.get("x-switchboard-signature", "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            timestamp = value
        elif key == "v1":
            given.append(value.lower())
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12 and given):
        return False
    if abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    signed = f"{timestamp}.".encode() + request.body
    expected = [hmac_hex(secret, signed) for secret in usable(secrets)]
    results = [matches_any(expected, signature) for signature in given]  # all, no short-circuit
    return any(results)


def secret_channel_name(*, request: RawRequest) -> str | None:
    """Each service channel has its own secret; the request names the channel it signed for
    (matched case-insensitively, like routing)."""
    return request.headers.get("x-switchboard-channel", "")


def dedup_key(*, request: RawRequest) -> str:
    """The signed body's event ids, else its hash. X-Switchboard-Event-Id is not signed: whoever
    replays a request could change it, so it decides nothing."""
    try:
        events = get_list(load_json_object(request.body), "events")
    except PayloadError:
        events = []
    ids = [event.get("id") for event in events if isinstance(event, dict)]
    if ids and len(ids) == len(events) and all(isinstance(i, str) and i for i in ids):
        return "events:" + json.dumps(sorted(ids))
    return sha256_hex(request.body)


replay_token = no_replay_token  # the signature covers timestamp and body


def parse(*, request: RawRequest) -> list[NormalizedEvent]:
    channel_key = request.headers.get("x-switchboard-channel", "").strip()
    if not channel_key:
        raise PayloadError("X-Switchboard-Channel header is missing")
    data = load_json_object(request.body)
    if "events" not in data:
        raise PayloadError("events is missing")
    events: list[NormalizedEvent] = []
    for where, event in each_dict(get_list(data, "events"), "events"):
        kind = get_str(event, "type", where, required=True)
        handler = _HANDLERS.get(kind)
        events += handler(event, channel_key, where) if handler else [Ignored(event_type=kind)]
    return events


def _timestamp(event: dict, where: str) -> datetime:
    value = event.get("timestamp")
    if isinstance(value, str) and not value.replace(".", "", 1).isdigit():
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise PayloadError(f"{where}.timestamp must be unix seconds or ISO 8601") from None
        if parsed.tzinfo is None:
            raise PayloadError(f"{where}.timestamp needs a UTC offset")
        return parsed
    return unix_time(value, f"{where}.timestamp")


def _message(event: dict, channel_key: str, where: str) -> list[NormalizedEvent]:
    media_url = get_str(event, "media_url", where)
    message = InboundMessage(
        channel_key=channel_key,
        external_id=get_str(event, "message_id", where, required=True),
        contact_id=get_str(event, "contact_id", where, required=True),
        timestamp=_timestamp(event, where),
        kind="media" if media_url else "text",
        text=get_str(event, "text", where),
        contact_name=get_str(event, "contact_name", where),
        contact_phone=get_str(event, "contact_phone", where),
        media_url=media_url,
        media_type=get_str(event, "media_type", where),
        mime_type=get_str(event, "mime_type", where),
        reply_to=get_str(event, "reply_to", where),
        is_echo=event.get("is_echo") is True,
        raw_type="message",
    )
    return with_keyword_opt_out(message)


def _status(event: dict, channel_key: str, where: str) -> list[NormalizedEvent]:
    status = get_str(event, "status", where, required=True)
    if status not in STATUSES:
        raise PayloadError(f"{where}.status must be one of {', '.join(STATUSES)}")
    return [
        StatusUpdate(
            channel_key=channel_key,
            external_id=get_str(event, "message_id", where, required=True),
            status=status,
            timestamp=_timestamp(event, where),
            contact_id=get_str(event, "contact_id", where),
            error_code=get_str(event, "error_code", where),
            error_title=get_str(event, "error_title", where),
            correlation_id=get_str(event, "idempotency_key", where)[:200],
        )
    ]


def _opt_out(event: dict, channel_key: str, where: str) -> list[NormalizedEvent]:
    reason = get_str(event, "reason", where) or "unsubscribe"
    if reason not in OPT_OUT_REASONS:
        raise PayloadError(f"{where}.reason must be one of {', '.join(OPT_OUT_REASONS)}")
    contact_id = get_str(event, "contact_id", where, required=True)
    return [OptOut(channel_key=channel_key, contact_id=contact_id, reason=reason, timestamp=_timestamp(event, where))]


_HANDLERS = {"message": _message, "status": _status, "opt_out": _opt_out}


def send(
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
    """POST {base_url}/messages, signed with secrets["secret"]; config["name"] is the channel."""
    channel = config.get("name", "")
    body = json.dumps(
        {"channel": channel, "to": to, "text": text, "template": template, "idempotency_key": idempotency_key}
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Switchboard-Signature": sign(secret=secrets.get("secret", ""), body=body, timestamp=int(time.time())),
        "Idempotency-Key": idempotency_key,
    }
    if channel:
        headers["X-Switchboard-Channel"] = channel
    return post(
        client,
        f"{base_url.rstrip('/')}/messages",
        external_id=lambda answer: dig(answer, "id"),
        error=lambda answer: (dig(answer, "error", "code"), dig(answer, "error", "message")),
        content=body,
        headers=headers,
    )


def perform(
    *,
    client: httpx.Client,
    base_url: str,
    channel: str,
    secret: str,
    activity: str,
    target: str,
    text: str,
    rep: str,
    idempotency_key: str,
) -> SendResult:
    """POST {base_url}/activities: the channel's service performs one activity for a rep."""
    body = json.dumps({"channel": channel, "activity": activity, "target": target, "text": text, "rep": rep,
                       "idempotency_key": idempotency_key}).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Switchboard-Signature": sign(secret=secret, body=body, timestamp=int(time.time())),
        "Idempotency-Key": idempotency_key,
        "X-Switchboard-Channel": channel,
    }
    return post(
        client,
        f"{base_url.rstrip('/')}/activities",
        external_id=lambda answer: dig(answer, "id"),
        error=lambda answer: (dig(answer, "error", "code"), dig(answer, "error", "message")),
        content=body,
        headers=headers,
    )
