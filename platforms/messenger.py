"""Facebook Messenger: `object: "page"` webhooks in, Send API out.

channel_key is entry.id (the Page id); contact_id is the PSID. The envelope, signature,
handshake and send are Meta's and live in `meta`; this module only names the object.
"""
from __future__ import annotations

import httpx

from . import meta
from .base import NormalizedEvent, RawRequest, SendResult

__all__ = ["dedup_key", "handshake", "parse", "send", "verify"]

verify = meta.verify
dedup_key = meta.dedup_key
handshake = meta.handshake


def parse(*, request: RawRequest) -> list[NormalizedEvent]:
    return meta.parse_messaging_webhook(request, expected_object="page")


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
    """POST {base_url}/v21.0/me/messages with the Page access token; `to` is the PSID."""
    return meta.send_api(
        client=client, base_url=base_url, secrets=secrets, to=to, text=text, template=template, platform="Messenger"
    )
