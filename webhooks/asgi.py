"""/webhooks/<platform>/ as a bare ASGI app: no middleware, no thread hop before the INSERT."""
from __future__ import annotations

from urllib.parse import parse_qsl

from webhooks.endpoint import handle, too_large
from webhooks.public_url import HostNotAllowed, webhook_url

PREFIX = "/webhooks/"


async def _read_body(receive) -> bytes | None:
    """The body, or None as soon as it grows past the limit (or the client went away): nothing more
    is read or kept."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if too_large(size):
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _answer(scope, receive, headers: dict[str, str]) -> tuple[int, bytes, str]:
    platform = scope["path"][len(PREFIX):].strip("/")
    try:
        length = int(headers.get("content-length") or 0)
    except ValueError:
        return 400, b'{"error": "Content-Length is not a number"}', "application/json"
    if "/" in platform or not platform:
        return 404, b'{"error": "unknown webhook path"}', "application/json"
    query_string = scope.get("query_string", b"").decode("latin1")
    host = headers.get("host") or "{}:{}".format(*scope.get("server") or ("localhost", 80))
    try:
        url = webhook_url(scheme=scope.get("scheme", "http"), host=host, path=scope.get("root_path", "") + scope["path"],
                          query=query_string, client_ip=(scope.get("client") or [None])[0], headers=headers)
    except HostNotAllowed:
        return 400, b'{"error": "Host is not allowed"}', "application/json"
    # Refused on the declared length before reading, and while reading when there is none.
    body = b"" if too_large(length) else await _read_body(receive)
    answer = await handle(platform=platform, method=scope["method"], query=dict(parse_qsl(query_string)),
                          headers=headers, body=body or b"", url=url, long_lived=True,
                          content_length=length if body is not None else 1 << 62)
    return answer.status, answer.body, answer.content_type


async def webhook_app(scope, receive, send):
    headers = {k.decode("latin1").lower(): v.decode("latin1") for k, v in scope["headers"]}
    status, payload, content_type = await _answer(scope, receive, headers)
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
