"""The Django view for /webhooks/<platform>/ (the test client and any WSGI deployment);
under daphne the same endpoint is served by webhooks/asgi.py without Django's middleware."""
from __future__ import annotations

from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from webhooks.endpoint import handle, too_large
from webhooks.public_url import HostNotAllowed, webhook_url


def _bad_request(detail: bytes) -> HttpResponse:
    return HttpResponse(b'{"error": "%s"}' % detail, status=400, content_type="application/json")


@csrf_exempt
async def webhook(request, platform: str):
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        return _bad_request(b"Content-Length is not a number")
    meta, headers = request.META, {k.lower(): v for k, v in request.headers.items()}
    # The scheme and host as received, not request.scheme / get_host(): SECURE_PROXY_SSL_HEADER and
    # USE_X_FORWARDED_HOST believe any client; webhook_url believes trusted proxies only.
    scheme, port = request._get_scheme(), str(meta.get("SERVER_PORT", ""))
    host = meta.get("HTTP_HOST") or meta["SERVER_NAME"] + ("" if port in ("", {"http": "80", "https": "443"}.get(scheme)) else f":{port}")
    try:
        url = webhook_url(scheme=scheme, host=host, path=request.path, query=meta.get("QUERY_STRING", ""),
                          client_ip=meta.get("REMOTE_ADDR"), headers=headers)
    except HostNotAllowed:
        return _bad_request(b"Host is not allowed")
    answer = await handle(
        platform=platform, method=request.method, query=request.GET, body=b"" if too_large(length) else request.body,
        content_length=length, headers=headers, url=url,
        # Under an ASGI server the loop lives as long as the process and gets a connection pool;
        # the sync test client runs each request on a loop of its own and gets a plain connection.
        long_lived=isinstance(request, ASGIRequest),
    )
    return HttpResponse(answer.body, status=answer.status, content_type=answer.content_type)
