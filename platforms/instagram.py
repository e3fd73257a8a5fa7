"""Instagram messaging: `object: "instagram"` webhooks in, Send API out.

channel_key is entry.id (the Instagram professional account id); contact_id is the IGSID.
Instagram reports reads per message (`read.mid`, a StatusUpdate) where Messenger uses
watermarks; `meta` handles both. Comments and mentions (`changes[]`) are Ignored.
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
    return meta.parse_messaging_webhook(request, expected_object="instagram")


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
    """POST {base_url}/v21.0/me/messages; base_url is graph.facebook.com (Page token) or
    graph.instagram.com (Instagram login token); `to` is the IGSID."""
    return meta.send_api(
        client=client, base_url=base_url, secrets=secrets, to=to, text=text, template=template, platform="Instagram"
    )
