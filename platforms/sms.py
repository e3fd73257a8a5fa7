"""Twilio Programmable Messaging (SMS/MMS): form-encoded webhooks in, Messages.json out.

One endpoint takes both inbound messages and status callbacks. channel_key is OUR number:
`To` on inbound, `From` on a status callback; `channel_candidates()` adds the
MessagingServiceSid first, because a number in a service pool may not be the one a
channel was configured with. Twilio payloads carry no time: events use
`request.received_at` (or now).

Status callbacks come to config["status_callback_url"] (this endpoint's public URL, e.g.
https://inbox.example.com/webhooks/sms/), sent as each message's StatusCallback with our
idempotency key added as its `correlation_id` query parameter. Twilio posts the callback to that
URL, query included (and signs it so), which names our message even when the answer to the send,
and with it the MessageSid, was never stored. Without it Twilio uses the Messaging Service's own
callback, and statuses match by MessageSid only.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

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
    any_channel,
    dig,
    e164,
    form_fields,
    matches_any,
    no_provider_template,
    no_replay_token,
    post,
    sha256_hex,
    unsupported_template,
    usable,
    with_keyword_opt_out,
)

name = "sms"
default_base_url = "https://api.twilio.com"
idempotent = False  # Messages.json is not relied on to deduplicate a repeated create
secret_names = ("auth_token",)
signing_secret_names = ("auth_token",)  # Twilio signs with the account's auth token
handshake_secret_names = ()
handshake = None
template_for = no_provider_template  # Twilio Content templates need a content_sid we do not store


def address_of(*, contact_id: str) -> str:
    return e164(contact_id)  # Twilio's From: "+14155550123"


def contact_id_for(*, address: str) -> str:
    return e164(address)
secret_channel_name = any_channel
replay_token = no_replay_token  # the signature covers every parameter

STATUSES = {"sent": "sent", "delivered": "delivered", "read": "read", "undelivered": "failed", "failed": "failed"}
INBOUND_STATUSES = ("received", "receiving")
UNSUBSCRIBED = "21610"  # "Attempt to send to unsubscribed recipient": they texted STOP to Twilio

# Status callbacks carry ErrorCode only; titles of the common ones, from Twilio's error dictionary.
ERROR_TITLES = {
    "21610": "Attempt to send to unsubscribed recipient",
    "30003": "Unreachable destination handset",
    "30004": "Message blocked",
    "30005": "Unknown destination handset",
    "30006": "Landline or unreachable carrier",
    "30007": "Message filtered",
    "30008": "Unknown error",
}
DEFAULT_PORTS = {"https": 443, "http": 80}
CORRELATION_PARAM = "correlation_id"  # the StatusCallback query parameter that carries our key


# ---------------------------------------------------------------- webhook security


def verify(*, request: RawRequest, secrets: list[str], now: float) -> bool:
    """`x-twilio-signature` = base64(HMAC-SHA1(auth token, URL + sorted key+value pairs)).
    Twilio may sign the URL with or without the default port, so both are accepted."""
    given = request.headers.get("x-twilio-signature", "").strip()
    if not given:
        return False
    try:
        params = form_fields(request)
    except PayloadError:
        return False
    payloads = [url + signed for url in _url_variants(request.url) for signed in _param_strings(params)]
    candidates = [_sign(secret, payload) for secret in usable(secrets) for payload in payloads]
    return matches_any(candidates, given)


def _sign(secret: str, payload: str) -> str:
    digest = hmac.new(secret.encode(), payload.encode("utf-8", "surrogatepass"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _url_variants(url: str) -> list[str]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return [url]
    default = DEFAULT_PORTS.get(parts.scheme)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if default is None:
        return [url]
    if port is None:
        return [url, urlunsplit(parts._replace(netloc=f"{host}:{default}"))]
    if port == default:
        return [url, urlunsplit(parts._replace(netloc=host))]
    return [url]


def _param_strings(params: list[tuple[str, str]]) -> list[str]:
    """Names sorted; a repeated name contributes each value, values sorted. twilio-python also
    drops duplicate identical pairs, other SDKs keep them: both are tried when they differ."""
    keep = "".join(name + value for name, value in sorted(params))
    dedup = "".join(name + value for name, value in sorted(set(params)))
    return [keep] if keep == dedup else [keep, dedup]


def dedup_key(*, request: RawRequest) -> str:
    try:
        fields = dict(form_fields(request))
    except PayloadError:
        fields = {}
    sid = fields.get("MessageSid", "")
    if not sid:
        return sha256_hex(request.body)
    return f"{sid}:{fields.get('MessageStatus') or fields.get('SmsStatus') or 'inbound'}"


def channel_candidates(*, request: RawRequest) -> list[str]:
    """Routing keys in priority order: MessagingServiceSid, then our number (E.164)."""
    fields = dict(form_fields(request))
    number = fields.get("From") if _is_status_callback(fields) else fields.get("To")
    candidates = [fields.get("MessagingServiceSid", ""), _number(number or "")]
    return [candidate for candidate in candidates if candidate]


# ---------------------------------------------------------------- parsing


def parse(*, request: RawRequest) -> list[NormalizedEvent]:
    fields = dict(form_fields(request))  # Twilio sends each field once
    if not fields.get("MessageSid"):
        raise PayloadError("MessageSid is missing")
    received = request.received_at or datetime.now(UTC)
    if _is_status_callback(fields):
        return _status(fields, received, request.url)
    return _inbound(fields, received)


def _is_status_callback(fields: dict[str, str]) -> bool:
    status = fields.get("MessageStatus") or fields.get("SmsStatus") or ""
    if status in INBOUND_STATUSES:
        return "Body" not in fields and "NumMedia" not in fields
    return bool(status) or ("Body" not in fields and "NumMedia" not in fields)


def _number(value: str) -> str:
    """E.164 when it is a phone number; short codes and sender ids stay as they are."""
    return (e164(value) or value) if value.startswith("+") else value


def _required(fields: dict[str, str], name: str) -> str:
    if not fields.get(name):
        raise PayloadError(f"{name} is missing")
    return fields[name]


def _inbound(fields: dict[str, str], received: datetime) -> list[NormalizedEvent]:
    sender = _number(_required(fields, "From"))
    try:
        num_media = int(fields.get("NumMedia") or 0)
    except ValueError:
        raise PayloadError("NumMedia must be a number") from None
    media: dict = {}
    if num_media > 0:  # MMS: the first medium is the message's media, like other platforms
        mime = fields.get("MediaContentType0", "")
        major = mime.split("/")[0]
        media = {
            "kind": "media",
            "media_url": fields.get("MediaUrl0", ""),
            "media_type": major if major in ("image", "audio", "video") else "file",
            "mime_type": mime,
        }
    message = InboundMessage(
        channel_key=_number(_required(fields, "To")),
        external_id=fields["MessageSid"],
        contact_id=sender,
        timestamp=received,
        text=fields.get("Body", ""),
        contact_phone=e164(sender),
        raw_type="mms" if num_media else "sms",
        **media,
    )
    # Advanced Opt-Out also flags the service's custom keywords (and other languages).
    return with_keyword_opt_out(message, forced=fields.get("OptOutType", "").upper() == "STOP")


def _correlation(url: str) -> str:
    """Our idempotency key, back from the StatusCallback URL we sent it in."""
    values = parse_qs(urlsplit(url).query).get(CORRELATION_PARAM) or [""]
    return values[0][:200]


def _status(fields: dict[str, str], received: datetime, url: str) -> list[NormalizedEvent]:
    status = fields.get("MessageStatus") or fields.get("SmsStatus") or ""
    sid = fields["MessageSid"]
    if status not in STATUSES:  # queued, accepted, sending, scheduled, canceled, …
        return [Ignored(event_type=f"status:{status or 'missing'}", detail=sid)]
    channel_key = _number(_required(fields, "From"))
    contact_id = _number(fields.get("To", ""))
    code = fields.get("ErrorCode", "")
    events: list[NormalizedEvent] = [
        StatusUpdate(
            channel_key=channel_key,
            external_id=sid,
            status=STATUSES[status],
            timestamp=received,
            contact_id=contact_id,
            error_code=code,
            error_title=fields.get("ErrorMessage") or ERROR_TITLES.get(code, ""),
            correlation_id=_correlation(url),
        )
    ]
    if code == UNSUBSCRIBED and contact_id:
        events.append(OptOut(channel_key=channel_key, contact_id=contact_id, reason="unsubscribe", timestamp=received))
    return events


# ---------------------------------------------------------------- sending


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
    """POST Messages.json from config["from_number"], else config["messaging_service_sid"].
    A template is a Twilio Content template: `{"content_sid": "HX…", "variables": {...}}`."""
    account_sid = config["account_sid"]
    data = {"To": to}
    if config.get("from_number"):
        data["From"] = config["from_number"]
    else:
        data["MessagingServiceSid"] = config["messaging_service_sid"]
    if template is not None:
        if not template.get("content_sid"):
            return unsupported_template("Twilio without a content_sid")
        data["ContentSid"] = template["content_sid"]
        data["ContentVariables"] = json.dumps(template.get("variables", {}))
    else:
        data["Body"] = text
    if config.get("status_callback_url"):
        data["StatusCallback"] = _with_correlation(config["status_callback_url"], idempotency_key)
    return post(
        client,
        f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json",
        external_id=lambda body: dig(body, "sid"),
        error=lambda body: (dig(body, "code"), dig(body, "message")),
        data=data,
        auth=(account_sid, secrets.get("auth_token", "")),
        headers={"I-Twilio-Idempotency-Token": idempotency_key},
    )


def _with_correlation(url: str, key: str) -> str:
    """The callback URL with our key as one more query parameter (any it already has are kept)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != CORRELATION_PARAM]
    return urlunsplit(parts._replace(query=urlencode([*query, (CORRELATION_PARAM, key)])))
