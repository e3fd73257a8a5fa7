"""Reads for the operator's channel page: a channel's webhook address and its last stored events."""
from __future__ import annotations

from django.db.models import Q

from platforms import get_adapter
from platforms.base import Ignored, InboundMessage, OptOut, PayloadError, RawRequest, StatusUpdate, Watermark
from salesreps.models import Channel
from webhooks.models import WebhookEvent
from webhooks.pipeline import REDRIVABLE

# What the platform's console calls the field our URL and token go into.
SETUP = {
    "whatsapp": "Meta app → WhatsApp → Configuration → Webhook: paste the callback URL and the verify token, "
                "then subscribe to the messages field.",
    "messenger": "Meta app → Messenger → Settings → Webhooks: paste the callback URL and the verify token, "
                 "subscribe the page to messages, message_deliveries, message_reads.",
    "instagram": "Meta app → Instagram → Webhooks: paste the callback URL and the verify token, subscribe to messages.",
    "sms": "Twilio console → Phone Numbers → your number (or Messaging Service) → \"A message comes in\": Webhook, "
           "HTTP POST, this URL; also use it as the status callback. Twilio signs with the account's auth token.",
    "email": "Mailgun → Receiving → Create route: match the receiving address, action forward(\"this URL\"); "
             "the webhook signing key is under Settings → API keys.",
    "service": "Your channel service POSTs to this URL with X-Switchboard-Channel: <the channel's name> and "
               "X-Switchboard-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, \"t.\" + body)>.",
}


def channel_webhook_info(*, channel: Channel, url: str) -> dict:
    adapter = get_adapter(channel.kind)
    stored = channel.secrets or {}
    return {
        "channel": channel.id,
        "platform": channel.kind,
        "url": url,
        "routing_key": channel.routing_key,
        "setup": SETUP.get(channel.kind, ""),
        "handshake": bool(adapter and adapter.handshake_secret_names),
        "verify_token_set": bool(adapter and any(stored.get(n) for n in adapter.handshake_secret_names)),
        "signing_secret_names": list(adapter.signing_secret_names) if adapter else [],
        "signing_secret_set": bool(adapter and any(stored.get(n) for n in adapter.signing_secret_names)),
        "channel_header": channel.name if channel.kind == "service" else "",
    }


def _summary(event: WebhookEvent) -> tuple[str, bool]:
    """What the event says, in a line (parsed again with the adapter, never shown raw), and whether
    it holds anything we act on (an ignored event that does was unrouted)."""
    adapter = get_adapter(event.platform)
    if adapter is None:
        return "unknown platform", False
    request = RawRequest(body=bytes(event.body), headers=event.headers, url=event.url,
                         content_type=event.headers.get("content-type", "").split(";")[0].strip(),
                         received_at=event.received_at)
    try:
        items = adapter.parse(request=request)
    except PayloadError as exc:
        return f"unreadable: {exc}"[:200], False
    parts = []
    for item in items[:3]:
        if isinstance(item, InboundMessage):
            parts.append(f"message from {item.contact_name or item.contact_id}: {item.text[:60]!r}" if item.text
                         else f"{item.kind} from {item.contact_name or item.contact_id}")
        elif isinstance(item, StatusUpdate):
            parts.append(f"status {item.status} of {item.external_id[:40]}")
        elif isinstance(item, Watermark):
            parts.append(f"{item.status} up to {item.watermark:%H:%M}")
        elif isinstance(item, OptOut):
            parts.append(f"opt-out ({item.reason})")
        elif isinstance(item, Ignored):
            parts.append(f"ignored {item.event_type}")
    more = f" (+{len(items) - 3} more)" if len(items) > 3 else ""
    actionable = any(not isinstance(item, Ignored) for item in items)
    return ("; ".join(parts) + more) or "no events", actionable


def channel_webhook_events(*, channel: Channel, limit: int = 20) -> list[dict]:
    """The newest stored events of the channel, with those of its platform that no channel took
    (unrouted, failed, or not processed yet): an event is bound to its channel only once processed."""
    events = (WebhookEvent.objects.filter(Q(channel=channel) | Q(platform=channel.kind, channel__isnull=True))
              .order_by("-received_at", "-id")[:limit])
    rows = []
    for e in events:
        summary, actionable = _summary(e)
        rows.append({
            "id": e.id,
            "received_at": e.received_at.isoformat(),
            "processed_at": e.processed_at.isoformat() if e.processed_at else None,
            "state": e.state,
            "unrouted": e.state == WebhookEvent.State.IGNORED and actionable,
            "bound": e.channel_id == channel.id,
            "attempts": e.attempts,
            "error": e.error,
            "summary": summary,
            "redrivable": e.state in REDRIVABLE,
        })
    return rows
