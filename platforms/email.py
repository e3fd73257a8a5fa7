"""E-mail: Mailgun inbound routes (`forward()` to our URL, parsed mode) in, SMTP out.

Mailgun posts the parsed message as urlencoded or multipart form fields and signs it in the
body: `signature` = hex HMAC-SHA256(signing key, timestamp + token). channel_key is the
route's `recipient` (our address), contact_id the envelope `sender`, both lower-cased.
Mailgun event webhooks (delivered, bounced, complained) are out of scope here.
"""
from __future__ import annotations

import json
import smtplib
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, parseaddr, parsedate_to_datetime

import httpx

from .base import (
    InboundMessage,
    NormalizedEvent,
    PayloadError,
    RawRequest,
    SendResult,
    is_opt_out_text,
)
from .common import (
    any_channel,
    form_fields,
    hmac_hex,
    matches_any,
    no_provider_template,
    own_channel_keys,
    sha256_hex,
    unix_time,
    usable,
    with_keyword_opt_out,
)

name = "email"
default_base_url = ""  # SMTP: config["smtp_host"], no HTTP API
idempotent = False  # receiving servers are not relied on to drop a repeated Message-ID
secret_names = ("signing_key", "smtp_username", "smtp_password")
signing_secret_names = ("signing_key",)  # Mailgun's webhook signing key
handshake_secret_names = ()
handshake = None
template_for = no_provider_template  # the rendered text; the subject is the channel's


def address_of(*, contact_id: str) -> str:
    return contact_id.strip().lower() if "@" in contact_id else ""


def contact_id_for(*, address: str) -> str:
    return address_of(contact_id=address)
channel_candidates = own_channel_keys  # the route's recipient names the channel
secret_channel_name = any_channel

TOLERANCE_SECONDS = 300


def verify(*, request: RawRequest, secrets: list[str], now: float) -> bool:
    """The signature fields are in the body (Mailgun's scheme), so the form is read first;
    a timestamp more than 300 s away from `now` is refused as a possible replay."""
    try:
        fields = dict(form_fields(request))
    except PayloadError:
        return False
    timestamp, token, signature = (fields.get(name, "") for name in ("timestamp", "token", "signature"))
    if not (timestamp and token and signature):
        return False
    try:
        if abs(now - int(timestamp)) > TOLERANCE_SECONDS:
            return False
    except ValueError:
        return False
    signed = (timestamp + token).encode()
    return matches_any([hmac_hex(key, signed) for key in usable(secrets)], signature.lower())


def dedup_key(*, request: RawRequest) -> str:
    """The Message-Id (the same mail routed twice is one event), else the signing token."""
    try:
        fields = dict(form_fields(request))
    except PayloadError:
        fields = {}
    return _header(fields, "Message-Id") or fields.get("token") or sha256_hex(request.body)


def _header(fields: dict[str, str], name: str) -> str:
    """A MIME header: Mailgun posts common ones as fields, all of them in `message-headers`."""
    for key, value in fields.items():
        if key.lower() == name.lower():
            return value.strip()
    try:
        headers = json.loads(fields.get("message-headers") or "[]")
    except (ValueError, RecursionError):
        return ""
    for pair in headers if isinstance(headers, list) else []:
        if isinstance(pair, list) and len(pair) == 2 and str(pair[0]).lower() == name.lower():
            return str(pair[1]).strip()
    return ""


def _address(value: str, name: str) -> str:
    addresses = [address for _, address in getaddresses([value]) if "@" in address]
    if not addresses:
        raise PayloadError(f"{name} must be an e-mail address")
    return addresses[0].lower()


def parse(*, request: RawRequest) -> list[NormalizedEvent]:
    fields = dict(form_fields(request))
    for name in ("recipient", "sender"):
        if not fields.get(name):
            raise PayloadError(f"{name} is missing")
    external_id = _header(fields, "Message-Id") or (f"mailgun:{fields['token']}" if fields.get("token") else "")
    if not external_id:
        raise PayloadError("Message-Id and token are missing")
    subject = fields.get("subject", "")
    message = InboundMessage(
        channel_key=_address(fields["recipient"], "recipient"),
        external_id=external_id,
        contact_id=_address(fields["sender"], "sender"),
        timestamp=_timestamp(fields, request),
        # stripped-text drops the quoted thread and signature; body-plain is always present.
        text=fields.get("stripped-text") or fields.get("body-plain", ""),
        contact_name=parseaddr(fields.get("from", ""))[0],
        reply_to=_header(fields, "In-Reply-To"),
        subject=subject,
        raw_type="email",
    )
    return with_keyword_opt_out(message, forced=is_opt_out_text(subject))


def _timestamp(fields: dict[str, str], request: RawRequest) -> datetime:
    # Mailgun's signing time is when it received the mail, by a clock we trust more than the
    # sender's Date header.
    if fields.get("timestamp"):
        return unix_time(fields["timestamp"], "timestamp")
    try:
        sent = parsedate_to_datetime(_header(fields, "Date"))
        return sent if sent.tzinfo else sent.replace(tzinfo=UTC)
    except (TypeError, ValueError, IndexError):
        pass
    if request.received_at is not None:
        return request.received_at
    raise PayloadError("timestamp is missing")


def send(
    *,
    client: httpx.Client | None = None,
    base_url: str = "",
    config: dict,
    secrets: dict,
    to: str,
    text: str = "",
    template: dict | None = None,
    idempotency_key: str,
) -> SendResult:
    """SMTP to config["smtp_host"]:config["smtp_port"] from config["from_address"] (client and
    base_url are unused: same signature as the HTTP adapters). A template is
    `{"subject", "text"}`; otherwise the subject is config["subject"]. The Message-ID is
    derived from the idempotency key, so a resend after an ambiguous failure is the same
    message to receiving servers, and it is what replies quote in In-Reply-To."""
    message_id = f"<{idempotency_key}@switchboard>"
    template = template or {}
    try:
        message = EmailMessage()
        message["From"] = config["from_address"]
        message["To"] = to
        message["Subject"] = template.get("subject") or config.get("subject", "")
        message["Message-ID"] = message_id
        if config.get("in_reply_to"):  # a reply: the person's mail client threads it
            message["In-Reply-To"] = config["in_reply_to"]
            message["References"] = config.get("references") or config["in_reply_to"]
        message["Date"] = formatdate(usegmt=True)
        message.set_content(text or template.get("text", ""))
    except ValueError as exc:  # CR/LF in a header: never retry
        return SendResult(ok=False, error_code="invalid_message", error_title=str(exc))
    sending = False
    try:
        port = int(config.get("smtp_port", 25))
        with smtplib.SMTP(config["smtp_host"], port, timeout=float(config.get("smtp_timeout", 10))) as smtp:
            if config.get("smtp_starttls"):
                smtp.starttls()
            if secrets.get("smtp_password"):
                smtp.login(secrets.get("smtp_username", ""), secrets["smtp_password"])
            sending = True
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        code, reply = next(iter(exc.recipients.values()))
        return _refused(code, reply)
    except smtplib.SMTPResponseException as exc:  # sender or data refused, authentication failed
        return _refused(exc.smtp_code, exc.smtp_error)
    except (smtplib.SMTPException, OSError) as exc:  # disconnects, refused connections, timeouts
        # Lost while the message was being handed over: the server may have queued it already
        # (relays do not deduplicate on Message-ID). Before that, nothing left.
        return SendResult(ok=False, retryable=True, ambiguous=sending, error_code=type(exc).__name__, error_title=str(exc))
    return SendResult(ok=True, external_id=message_id, response={"message_id": message_id})


def _refused(code: int, reply: bytes | str) -> SendResult:
    title = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    # SMTP 4xx replies are transient by definition (RFC 5321 §4.2.1); 5xx are permanent.
    return SendResult(ok=False, retryable=400 <= code < 500, error_code=str(code), error_title=title)
