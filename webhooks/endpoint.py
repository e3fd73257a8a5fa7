"""The unified webhook endpoint, independent of how the request arrived.

`handle()` is called by the Django view (tests, WSGI) and by the bare ASGI app that serves
/webhooks/ in production (webhooks/asgi.py): the hot path skips Django's middleware, each
of which costs a hop onto the one shared sync thread (bench/RESULTS.md).
"""
from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings

from platforms import get_adapter
from platforms.base import Adapter, RawRequest
from platforms.common import MAX_FORM_FIELDS, form_field_count
from webhooks import checks, fastpath, pipeline
from webhooks.checks import Verdict

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_checkers: ThreadPoolExecutor | None = None


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str = "application/json"


def _json(status: int, data: dict) -> Answer:
    return Answer(status, json.dumps(data).encode())


def _error(status: int, detail: str) -> Answer:
    return _json(status, {"error": detail})


def too_large(length: int) -> bool:
    return length > settings.WEBHOOK_MAX_BODY_BYTES


async def handle(*, platform: str, method: str, query: Mapping[str, str], headers: Mapping[str, str],
                 body: bytes, url: str, content_length: int, long_lived: bool) -> Answer:
    """Limit, verify, store, answer. `headers` are lower-cased; `body` is the raw bytes as sent."""
    adapter = get_adapter(platform)
    if adapter is None:
        return _error(404, f"unknown platform {platform!r}")
    if method == "GET":
        return await _handshake(adapter, query)
    if method != "POST":
        return _error(405, "use POST")
    if too_large(content_length) or too_large(len(body)):
        return _error(413, f"body larger than {settings.WEBHOOK_MAX_BODY_BYTES} bytes")
    raw = RawRequest(body=body, headers=headers, url=url, content_type=headers.get("content-type", "").split(";")[0].strip())
    # Counted by a scan in C, before any parser sees the form.
    if raw.content_type.lower() in FORM_TYPES and form_field_count(raw) > MAX_FORM_FIELDS:
        return _error(413, f"form has more than {MAX_FORM_FIELDS} fields")
    verdict = await _verdict(adapter, raw)
    if verdict.status != 200:
        return _error(verdict.status, verdict.detail)
    stored = await fastpath.store(platform=platform, request=raw, verdict=verdict, long_lived=long_lived)
    if stored == "replayed":
        return _error(401, "signature token already used")
    if stored == "duplicate":
        return _json(200, {"status": "duplicate"})
    pipeline.process_soon(stored)
    return _json(200, {"status": "received", "id": stored})


async def _verdict(adapter: Adapter, raw: RawRequest) -> Verdict:
    now = time.time()
    verdict = await _off_loop(adapter, raw, await fastpath.platform_channels(adapter), now)
    if verdict.status == 401:  # perhaps a channel or secret newer than the cache
        fresh = await fastpath.platform_channels(adapter, after_failure=True)
        if fresh is not None:
            verdict = await _off_loop(adapter, raw, fresh, now)
    return verdict


async def _off_loop(adapter: Adapter, raw: RawRequest, channels: list, now: float) -> Verdict:
    """checks.verdict on a thread of its own pool, under the time budget, so a big body never stalls
    the sockets of this process. A small body is checked in less time than the hop takes (≈80 µs
    against ≈90 µs for a 1 KB WhatsApp body); a multipart one never is (the stdlib parser is slow)."""
    if len(raw.body) <= settings.WEBHOOK_INLINE_CHECK_BYTES and raw.content_type.lower() != "multipart/form-data":
        return checks.verdict(adapter, raw, channels, now)
    global _checkers
    if _checkers is None:
        _checkers = ThreadPoolExecutor(max_workers=settings.WEBHOOK_CHECK_THREADS, thread_name_prefix="webhook-check")
    work = asyncio.get_running_loop().run_in_executor(_checkers, checks.verdict, adapter, raw, channels, now)
    try:
        # Waiting in the queue counts too: under a flood, requests are shed, not queued for ever.
        return await asyncio.wait_for(work, settings.WEBHOOK_CHECK_BUDGET_SECONDS)
    except TimeoutError:
        return Verdict(503, "verification took too long, retry later")


async def _handshake(adapter: Adapter, query: Mapping[str, str]) -> Answer:
    if adapter.handshake is None:
        return _error(405, f"{adapter.name} has no GET handshake")
    tokens = await fastpath.in_thread(pipeline.verify_tokens, adapter)
    challenge = adapter.handshake(params=query, verify_tokens=tokens)
    if challenge is None:
        return _error(403, "verify token does not match")
    return Answer(200, challenge.encode(), "text/plain")
