"""POST /webhooks/<platform>/: verify, store, answer; GET: Meta's subscription handshake.

An async view: verification and the INSERT run on the event loop (webhooks/fastpath.py), so the
request never waits for Django's shared sync thread.
"""
from __future__ import annotations

import time

from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from platforms import get_adapter
from platforms.base import PayloadError, RawRequest
from webhooks import fastpath, pipeline

MAX_BODY = 3 * 1024 * 1024


def _error(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"error": detail}, status=status)


@csrf_exempt
async def webhook(request, platform: str):
    adapter = get_adapter(platform)
    if adapter is None:
        return _error(404, f"unknown platform {platform!r}")
    if request.method == "GET":
        return await _handshake(request, platform, adapter)
    if request.method != "POST":
        return _error(405, "use POST")
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        return _error(400, "Content-Length is not a number")
    if length > MAX_BODY:
        return _error(413, "body larger than 3 MB")
    raw = RawRequest(body=request.body, headers={k.lower(): v for k, v in request.headers.items()},
                     url=request.build_absolute_uri(), content_type=request.content_type or "")
    if not await _verified(platform, adapter, raw):
        return _error(401, "signature missing or invalid")
    try:
        adapter.parse(request=raw)  # reject malformed payloads before storing; processing parses again
    except PayloadError as exc:
        return _error(400, f"malformed {platform} payload: {exc}")
    # Under an ASGI server the loop lives as long as the process and gets a pool; the sync test
    # client runs each request on a loop of its own and gets a plain connection.
    event_id = await fastpath.store(platform=platform, request=raw, dedup_key=adapter.dedup_key(request=raw),
                                    long_lived=isinstance(request, ASGIRequest))
    if event_id is None:
        return JsonResponse({"status": "duplicate"})
    pipeline.process_soon(event_id)
    return JsonResponse({"status": "received", "id": event_id})


async def _verified(platform: str, adapter, raw: RawRequest) -> bool:
    now = time.time()
    secrets = await fastpath.signing_secrets(platform, raw)
    if secrets and adapter.verify(request=raw, secrets=secrets, now=now):
        return True
    secrets = await fastpath.signing_secrets(platform, raw, fresh=True)
    return bool(secrets) and adapter.verify(request=raw, secrets=secrets, now=now)


async def _handshake(request, platform: str, adapter):
    handshake = getattr(adapter, "handshake", None)
    if handshake is None:
        return _error(405, f"{platform} has no GET handshake")
    tokens = await fastpath.in_thread(pipeline.verify_tokens, platform)
    challenge = handshake(params=request.GET, verify_tokens=tokens)
    if challenge is None:
        return _error(403, "verify token does not match")
    return HttpResponse(challenge, content_type="text/plain")
