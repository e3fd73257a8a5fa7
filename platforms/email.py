"""E-mail: Mailgun inbound routes (`forward()` to our URL, parsed mode) in, SMTP out.

Mailgun posts the parsed message as urlencoded or multipart form fields and signs it in the
body: `signature` = hex HMAC-SHA256(signing key, timestamp + token). channel_key is the
route's `recipient` (our address), contact_id the envelope `sender`, both lower-cased.

Statuses: e-mail has no status webhook here (Mailgun's event webhooks are not read), so what
comes back to our address tells: a reply whose In-Reply-To/References names one of our
Message-IDs proves that mail arrived ("delivered"); a bounce (a delivery-status report, or mail
from the mailer daemon) naming one fails it. Our Message-IDs embed the send's idempotency key
(`<switchboard-msg-42.<random>@our domain>`), which is the status's correlation id, so even a
send whose answer was lost is settled by them.
"""
from __future__ import annotations

import html
import json
import re
import smtplib
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, parseaddr, parsedate_to_datetime
from secrets import token_hex

import httpx

from .base import (
    KEY_PREFIX,
    InboundMessage,
    NormalizedEvent,
    PayloadError,
    RawRequest,
    SendResult,
    StatusUpdate,
    is_opt_out_text,
)
from .common import (
    any_channel,
    filled,
    form_fields,
    hmac_hex,
    matches_any,
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


def template_for(*, subject: str = "", html_body: str = "", variables: dict, **_other: object) -> dict | None:
    """The template's subject and HTML part, filled in (HTML-escaped values); the plain text part is
    the message's rendered text. None when the template has neither: the channel's subject."""
    if not (subject or html_body):
        return None
    return {"subject": filled(subject, variables), "html": filled(html_body, variables, escape=html.escape)}


def address_of(*, contact_id: str) -> str:
    return contact_id.strip().lower() if "@" in contact_id else ""


def contact_id_for(*, address: str) -> str:
    return address_of(contact_id=address)
channel_candidates = own_channel_keys  # the route's recipient names the channel
secret_channel_name = any_channel

TOLERANCE_SECONDS = 300
# One of our Message-IDs: the send's idempotency key, a random part, our domain.
OUR_MESSAGE_ID = re.compile(rf"<({re.escape(KEY_PREFIX)}\d+)\.[0-9a-f]{{16}}@[^<>\s]+>")
BOUNCE_SENDERS = ("mailer-daemon", "postmaster")


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


SIGNATURE_FIELDS = ("timestamp", "token", "signature")


def dedup_key(*, request: RawRequest) -> str:
    """The Message-Id with the envelope sender (the same mail routed twice is one event; the sender
    chooses the id, so one sender's mail never suppresses another's), else the fields without the
    signature, which Mailgun signs anew for each retry."""
    try:
        fields = form_fields(request)
    except PayloadError:
        return sha256_hex(request.body)
    message_id = _header(dict(fields), "Message-Id")
    if message_id:
        return json.dumps([message_id, dict(fields).get("sender", "").strip().lower()])
    return sha256_hex(json.dumps(sorted(f for f in fields if f[0] not in SIGNATURE_FIELDS)).encode())


def replay_token(*, request: RawRequest) -> str:
    """Mailgun signs timestamp + token, not the body: the token is accepted once."""
    try:
        return dict(form_fields(request)).get("token", "")
    except PayloadError:
        return ""


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


def _ours(*texts: str) -> dict[str, str]:
    """Our Message-IDs named in `texts`, each with the idempotency key it embeds, in order."""
    return {match.group(0): match.group(1) for text in texts for match in OUR_MESSAGE_ID.finditer(text)}


def _is_bounce(fields: dict[str, str]) -> bool:
    """A delivery-status report (RFC 3464), or mail from a mailer daemon: null or daemon sender."""
    content_type = _header(fields, "Content-Type").lower()
    if content_type.startswith("multipart/report") and "delivery-status" in content_type:
        return True
    sender = fields.get("sender", "").strip().strip("<>").lower()
    return not sender or sender.split("@")[0] in BOUNCE_SENDERS


def _statuses(fields: dict[str, str], ours: dict[str, str], status: str, request: RawRequest, **extra) -> list[NormalizedEvent]:
    channel_key = _address(fields["recipient"], "recipient")
    at = _timestamp(fields, request)
    return [StatusUpdate(channel_key=channel_key, external_id=message_id, status=status, timestamp=at, correlation_id=key,
                         **extra) for message_id, key in ours.items()]


def parse(*, request: RawRequest) -> list[NormalizedEvent]:
    fields = dict(form_fields(request))
    if not fields.get("recipient"):
        raise PayloadError("recipient is missing")
    threaded = (_header(fields, "In-Reply-To"), _header(fields, "References"))
    if _is_bounce(fields):
        bounced = _ours(*threaded, fields.get("body-plain", ""))
        if bounced:  # about our mail, not from a person: a status, never a conversation message
            return _statuses(fields, bounced, "failed", request, error_code="bounced",
                             error_title=(fields.get("subject") or "the mail bounced")[:300])
    if not fields.get("sender"):
        raise PayloadError("sender is missing")
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
    events = with_keyword_opt_out(message, forced=is_opt_out_text(subject))
    # A reply quoting our mail proves it arrived: that settles a send whose answer was lost too.
    return events + _statuses(fields, _ours(*threaded), "delivered", request, contact_id=message.contact_id)


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
    base_url are unused: same signature as the HTTP adapters). A template is `{"subject",
    "html", "text"}` (template_for); with HTML the mail is multipart/alternative, plain text
    first. The Message-ID embeds the idempotency key, so bounces and replies that name it find
    our message even when this answer is lost; its random part keeps it unique worldwide."""
    domain = parseaddr(config.get("from_address", ""))[1].rpartition("@")[2] or "switchboard.invalid"
    message_id = f"<{idempotency_key}.{token_hex(8)}@{domain}>"
    template = template or {}
    try:
        message = EmailMessage()
        message["From"] = config["from_address"]
        message["To"] = to
        message["Subject"] = _subject(config, template)
        message["Message-ID"] = message_id
        if config.get("in_reply_to"):  # a reply: the person's mail client threads it
            message["In-Reply-To"] = config["in_reply_to"]
            message["References"] = config.get("references") or config["in_reply_to"]
        message["Date"] = formatdate(usegmt=True)
        message.set_content(text or template.get("text", ""))
        if template.get("html"):
            message.add_alternative(template["html"], subtype="html")
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
        return SendResult(ok=False, retryable=True, ambiguous=sending, external_id=message_id if sending else "",
                          error_code=type(exc).__name__, error_title=str(exc))
    return SendResult(ok=True, external_id=message_id, response={"message_id": message_id})


def _subject(config: dict, template: dict) -> str:
    """A reply in a thread keeps "Re: " the thread's subject (config["subject"], set for the reply;
    mail clients thread on it too); otherwise the template's, else the channel's."""
    subject = config.get("subject", "")
    if config.get("in_reply_to") and subject[:3].lower() == "re:":
        return subject
    return template.get("subject") or subject


def _refused(code: int, reply: bytes | str) -> SendResult:
    title = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    # SMTP 4xx replies are transient by definition (RFC 5321 §4.2.1); 5xx are permanent.
    return SendResult(ok=False, retryable=400 <= code < 500, error_code=str(code), error_title=title)
