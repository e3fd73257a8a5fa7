"""The Django view for /webhooks/<platform>/ (the test client and any WSGI deployment);
under daphne the same endpoint is served by webhooks/asgi.py without Django's middleware."""
from __future__ import annotations

from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from webhooks.endpoint import MAX_BODY, handle


@csrf_exempt
async def webhook(request, platform: str):
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        return HttpResponse(b'{"error": "Content-Length is not a number"}', status=400, content_type="application/json")
    body = request.body if length <= MAX_BODY else b""
    answer = await handle(
        platform=platform, method=request.method, query=request.GET, body=body, content_length=length,
        headers={k.lower(): v for k, v in request.headers.items()}, url=request.build_absolute_uri(),
        # Under an ASGI server the loop lives as long as the process and gets a connection pool;
        # the sync test client runs each request on a loop of its own and gets a plain connection.
        long_lived=isinstance(request, ASGIRequest),
    )
    return HttpResponse(answer.body, status=answer.status, content_type=answer.content_type)
