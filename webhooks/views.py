"""POST /webhooks/<platform>/: verify, store, answer; GET: Meta's subscription handshake."""
from __future__ import annotations

from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from platforms import get_adapter
from platforms.base import PayloadError, RawRequest
from webhooks import pipeline

MAX_BODY = 3 * 1024 * 1024


def _error(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"error": detail}, status=status)


@csrf_exempt
def webhook(request, platform: str):
    adapter = get_adapter(platform)
    if adapter is None:
        return _error(404, f"unknown platform {platform!r}")
    if request.method == "GET":
        handshake = getattr(adapter, "handshake", None)
        if handshake is None:
            return _error(405, f"{platform} has no GET handshake")
        challenge = handshake(params=request.GET, verify_tokens=pipeline.verify_tokens(platform))
        return HttpResponse(challenge, content_type="text/plain") if challenge is not None else _error(403, "verify token does not match")
    if request.method != "POST":
        return _error(405, "use POST")
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        return _error(400, "Content-Length is not a number")
    if length > MAX_BODY:
        return _error(413, "body larger than 3 MB")
    body = request.body
    raw = RawRequest(body=body, headers={k.lower(): v for k, v in request.headers.items()},
                     url=request.build_absolute_uri(), content_type=request.content_type or "")
    secrets = pipeline.signing_secrets(platform, raw)
    if not secrets:
        return _error(403, f"no active {platform} channel is configured to sign this")
    import time

    if not adapter.verify(request=raw, secrets=secrets, now=time.time()):
        return _error(401, "signature missing or invalid")
    try:
        adapter.parse(request=raw)  # reject malformed payloads before storing; processing parses again
    except PayloadError as exc:
        return _error(400, f"malformed {platform} payload: {exc}")
    event_id = pipeline.event_store(platform=platform, request=raw, dedup_key=adapter.dedup_key(request=raw))
    if event_id is None:
        return JsonResponse({"status": "duplicate"})
    pipeline.process_soon(event_id)
    return JsonResponse({"status": "received", "id": event_id})
