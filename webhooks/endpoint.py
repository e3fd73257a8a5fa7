"""The unified webhook endpoint, independent of how the request arrived.

`handle()` is called by the Django view (tests, WSGI) and by the bare ASGI app that serves
/webhooks/ in production (webhooks/asgi.py): the hot path skips Django's middleware, each
of which costs a hop onto the one shared sync thread (bench/RESULTS.md).
"""
from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass

from platforms import get_adapter
from platforms.base import Adapter, PayloadError, RawRequest
from webhooks import fastpath, pipeline

MAX_BODY = 3 * 1024 * 1024


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str = "application/json"


def _json(status: int, data: dict) -> Answer:
    return Answer(status, json.dumps(data).encode())


def _error(status: int, detail: str) -> Answer:
    return _json(status, {"error": detail})


async def handle(*, platform: str, method: str, query: Mapping[str, str], headers: Mapping[str, str],
                 body: bytes, url: str, content_length: int, long_lived: bool) -> Answer:
    """Verify, store, answer. `headers` are lower-cased; `body` is the raw bytes as sent."""
    adapter = get_adapter(platform)
    if adapter is None:
        return _error(404, f"unknown platform {platform!r}")
    if method == "GET":
        return await _handshake(adapter, query)
    if method != "POST":
        return _error(405, "use POST")
    if content_length > MAX_BODY or len(body) > MAX_BODY:
        return _error(413, "body larger than 3 MB")
    raw = RawRequest(body=body, headers=headers, url=url, content_type=headers.get("content-type", "").split(";")[0].strip())
    if not await _verified(adapter, raw):
        return _error(401, "signature missing or invalid")
    try:
        adapter.parse(request=raw)  # reject malformed payloads before storing; processing parses again
    except PayloadError as exc:
        return _error(400, f"malformed {platform} payload: {exc}")
    event_id = await fastpath.store(platform=platform, request=raw, dedup_key=adapter.dedup_key(request=raw),
                                    long_lived=long_lived)
    if event_id is None:
        return _json(200, {"status": "duplicate"})
    pipeline.process_soon(event_id)
    return _json(200, {"status": "received", "id": event_id})


async def _verified(adapter: Adapter, raw: RawRequest) -> bool:
    now = time.time()
    secrets = await fastpath.signing_secrets(adapter, raw)
    if secrets and adapter.verify(request=raw, secrets=secrets, now=now):
        return True
    secrets = await fastpath.signing_secrets(adapter, raw, fresh=True)
    return bool(secrets) and adapter.verify(request=raw, secrets=secrets, now=now)


async def _handshake(adapter: Adapter, query: Mapping[str, str]) -> Answer:
    if adapter.handshake is None:
        return _error(405, f"{adapter.name} has no GET handshake")
    tokens = await fastpath.in_thread(pipeline.verify_tokens, adapter)
    challenge = adapter.handshake(params=query, verify_tokens=tokens)
    if challenge is None:
        return _error(403, "verify token does not match")
    return Answer(200, challenge.encode(), "text/plain")
