"""/webhooks/<platform>/ as a bare ASGI app: no middleware, no thread hop before the INSERT."""
from __future__ import annotations

from urllib.parse import parse_qsl

from webhooks.endpoint import MAX_BODY, handle

PREFIX = "/webhooks/"


async def _read_body(receive, limit: int) -> tuple[bytes, bool]:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"", False
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks), size <= limit


async def webhook_app(scope, receive, send):
    platform = scope["path"][len(PREFIX):].strip("/")
    headers = {k.decode("latin1").lower(): v.decode("latin1") for k, v in scope["headers"]}
    try:
        length = int(headers.get("content-length") or 0)
    except ValueError:
        length = -1
    body, within = await _read_body(receive, MAX_BODY)
    query_string = scope.get("query_string", b"").decode("latin1")
    host = headers.get("host") or "{}:{}".format(*scope.get("server") or ("localhost", 80))
    url = f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}{scope['path']}" + (f"?{query_string}" if query_string else "")
    if length < 0:
        status, payload, content_type = 400, b'{"error": "Content-Length is not a number"}', "application/json"
    elif "/" in platform or not platform:
        status, payload, content_type = 404, b'{"error": "unknown webhook path"}', "application/json"
    else:
        answer = await handle(platform=platform, method=scope["method"], query=dict(parse_qsl(query_string)),
                              headers=headers, body=body, url=url, long_lived=True,
                              content_length=length if within else MAX_BODY + 1)
        status, payload, content_type = answer.status, answer.body, answer.content_type
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type.encode()), (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


def with_webhooks(app):
    """Route /webhooks/… to the bare app, everything else to `app`."""
    async def router(scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith(PREFIX):
            return await webhook_app(scope, receive, send)
        return await app(scope, receive, send)

    return router
