"""Sample inbound events, shaped and signed as each platform sends them, posted to our own endpoint.

The channel page's "test" and `manage.py demo_inbound` use them: the event goes through the real
endpoint (signature check, store, processing), so a wrong secret or routing key shows up exactly
as it would for the platform. Each signature follows the platform's documented scheme (Meta's
X-Hub-Signature-256, Twilio's URL + sorted parameters, Mailgun's timestamp + token, our services'
t=…,v1=…); the endpoint checks it with the adapter, so a mistake here fails the test visibly.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets as pysecrets
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

import httpx
from django.conf import settings

from platforms import get_adapter, service
from platforms.base import InboundMessage, RawRequest
from platforms.common import hmac_hex
from salesreps.models import Channel

WEBHOOK_PATH = "/webhooks/{platform}/"
TIMEOUT_SECONDS = 10


class SampleError(ValueError):
    """The channel cannot be sampled as configured; the message says what to set."""


@dataclass(frozen=True)
class Contact:
    """Who writes in: one made-up person per platform, the same on every run (one conversation)."""

    name: str = "Demo Contact"
    whatsapp: str = "15550001234"
    meta_id: str = "7000000000000001"
    phone: str = "+14155550123"
    email: str = "demo.contact@example.com"


@dataclass(frozen=True)
class Sample:
    platform: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)  # Content-Type and the signature headers
    signed_url: str = ""  # the URL the signature covers (Twilio) or the endpoint's public URL


def public_webhook_url(platform: str, *, host: str) -> str:
    """The URL the endpoint will believe it was called at, from loopback: PUBLIC_BASE_URL + path,
    else http://<Host we send><path> (webhooks/public_url.py: forwarded headers are not sent)."""
    path = WEBHOOK_PATH.format(platform=platform)
    return (settings.PUBLIC_BASE_URL or f"http://{host}") + path


def _signing_secret(channel: Channel) -> str:
    adapter = get_adapter(channel.kind)
    for name in adapter.signing_secret_names:
        value = (channel.secrets or {}).get(name)
        if isinstance(value, str) and value:
            return value
    names = " or ".join(adapter.signing_secret_names)
    raise SampleError(f"channel {channel.name!r} has no {names} secret: set it (it signs the platform's webhooks)")


def _unique() -> str:
    return f"{time.time_ns()}{pysecrets.token_hex(3)}"


def _whatsapp(channel: Channel, text: str, who: Contact, now: int) -> dict:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": channel.routing_key, "phone_number_id": channel.routing_key},
        "contacts": [{"profile": {"name": who.name}, "wa_id": who.whatsapp}],
        "messages": [{"from": who.whatsapp, "id": f"wamid.demo{_unique()}", "timestamp": str(now),
                      "type": "text", "text": {"body": text}}],
    }
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "demo-waba", "changes": [{"field": "messages", "value": value}]}]}


def _meta_messaging(obj: str):
    def build(channel: Channel, text: str, who: Contact, now: int) -> dict:
        item = {"sender": {"id": who.meta_id}, "recipient": {"id": channel.routing_key}, "timestamp": now * 1000,
                "message": {"mid": f"m_demo{_unique()}", "text": text}}
        return {"object": obj, "entry": [{"id": channel.routing_key, "time": now * 1000, "messaging": [item]}]}
    return build


def _sms_fields(channel: Channel, text: str, who: Contact) -> dict[str, str]:
    sid = f"SM{hashlib.sha256(_unique().encode()).hexdigest()[:32]}"
    fields = {"ToCountry": "US", "SmsMessageSid": sid, "NumMedia": "0", "SmsSid": sid, "SmsStatus": "received",
              "Body": text, "MessageSid": sid, "AccountSid": "AC" + "0" * 32, "From": who.phone, "ApiVersion": "2010-04-01",
              "NumSegments": "1"}
    key = channel.routing_key
    if key.startswith("MG"):  # routed by its Messaging Service; the number is the one it configures
        fields["MessagingServiceSid"], fields["To"] = key, (channel.config or {}).get("from_number", "+15005550006")
    else:
        fields["To"] = key
    return fields


def _twilio_signature(secret: str, url: str, fields: dict[str, str]) -> str:
    data = url + "".join(name + value for name, value in sorted(fields.items()))
    return base64.b64encode(hmac.new(secret.encode(), data.encode(), hashlib.sha1).digest()).decode()


def _email_fields(channel: Channel, text: str, who: Contact, secret: str, now: int) -> dict[str, str]:
    message_id = f"<demo{_unique()}@example.com>"
    token = pysecrets.token_hex(25)
    return {
        "recipient": channel.routing_key, "sender": who.email, "from": f"{who.name} <{who.email}>",
        "subject": "Hello from the demo", "body-plain": text, "stripped-text": text, "Message-Id": message_id,
        "To": channel.routing_key, "timestamp": str(now), "token": token,
        "signature": hmac_hex(secret, f"{now}{token}".encode()),
        "message-headers": json.dumps([["Message-Id", message_id], ["Subject", "Hello from the demo"]]),
    }


JSON_BUILDERS = {"whatsapp": _whatsapp, "messenger": _meta_messaging("page"), "instagram": _meta_messaging("instagram")}
ROUTING_KEY_NAMES = {"whatsapp": "the WhatsApp phone_number_id", "messenger": "the Facebook page id",
                     "instagram": "the Instagram account id", "sms": "the Twilio number (E.164) or Messaging Service SID",
                     "email": "the receiving address"}


def sample_build(*, channel: Channel, text: str, host: str, who: Contact | None = None) -> Sample:
    """A signed inbound text message from a demo contact to `channel`, as its platform would post it.
    `host` is the Host the request will carry (for URL-signed platforms)."""
    if not isinstance(text, str) or not text.strip():
        raise SampleError("text is empty: give the message the demo contact writes")
    if len(text) > 4096:
        raise SampleError("text is longer than 4096 characters")
    who = who or Contact()
    platform = channel.kind
    if get_adapter(platform) is None:
        raise SampleError(f"channel kind {platform!r} has no platform adapter")
    if platform != "service" and not channel.routing_key:
        raise SampleError(f"channel {channel.name!r} has no routing key: set {ROUTING_KEY_NAMES[platform]}")
    secret = _signing_secret(channel)
    url = public_webhook_url(platform, host=host)
    now = int(time.time())
    if platform in JSON_BUILDERS:
        body = json.dumps(JSON_BUILDERS[platform](channel, text, who, now)).encode()
        return Sample(platform, body, {"Content-Type": "application/json",
                                       "X-Hub-Signature-256": "sha256=" + hmac_hex(secret, body)}, url)
    if platform == "service":
        event = {"id": f"evt_demo{_unique()}", "type": "message", "timestamp": now, "message_id": f"demo-{_unique()}",
                 "contact_id": "demo-contact", "contact_name": who.name, "text": text}
        body = json.dumps({"events": [event]}).encode()
        return Sample(platform, body, {"Content-Type": "application/json", "X-Switchboard-Channel": channel.name,
                                       "X-Switchboard-Signature": service.sign(secret=secret, body=body, timestamp=now)}, url)
    form = "application/x-www-form-urlencoded"
    if platform == "sms":
        fields = _sms_fields(channel, text, who)
        return Sample(platform, urlencode(fields).encode(),
                      {"Content-Type": form, "X-Twilio-Signature": _twilio_signature(secret, url, fields)}, url)
    fields = _email_fields(channel, text, who, secret, now)
    return Sample(platform, urlencode(fields).encode(), {"Content-Type": form}, url)


def sample_external_id(sample: Sample) -> str:
    """The platform's id of the sample's message, read by its adapter as the inbox stores it."""
    request = RawRequest(body=sample.body, headers={k.lower(): v for k, v in sample.headers.items()}, url=sample.signed_url,
                         content_type=sample.headers.get("Content-Type", ""))
    items = get_adapter(sample.platform).parse(request=request)
    return next((item.external_id for item in items if isinstance(item, InboundMessage)), "")


@dataclass(frozen=True)
class Delivery:
    """What our endpoint answered a sample."""

    ok: bool
    status_code: int | None
    answer: dict
    event_id: int | None
    detail: str
    url: str


def sample_post(*, sample: Sample, base_url: str, host: str) -> Delivery:
    """POST the sample to the endpoint at `base_url` (loopback), with Host `host`."""
    target = base_url.rstrip("/") + urlsplit(sample.signed_url).path
    try:
        response = httpx.post(target, content=sample.body, headers={**sample.headers, "Host": host},
                              timeout=TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        return Delivery(False, None, {}, None, f"could not reach the webhook endpoint at {target}: {type(exc).__name__}: {exc}",
                        target)
    try:
        answer = response.json()
    except ValueError:
        answer = {"text": response.text[:500]}
    if not isinstance(answer, dict):
        answer = {"answer": answer}
    ok = response.status_code == 200
    event_id = answer.get("id") if ok and isinstance(answer.get("id"), int) else None
    if ok:
        detail = f"accepted and stored as webhook event {event_id}" if event_id else f"accepted: {answer.get('status')}"
    else:
        detail = f"refused with {response.status_code}: {answer.get('error') or answer.get('text') or answer}"
    return Delivery(ok, response.status_code, answer, event_id, detail, target)
