"""Daphne runs on Twisted's HTTP request, which by default parses every POST form body into
`request.args` before the application sees it: the Content-Type through the e-mail header parser
(~3 ms a request, a third of the event loop at 100 webhooks/s in the bench's profile), then the
whole body (`parse_qs`, or multipart) — on the event loop, before any signature check. Daphne
never reads `request.args` (the ASGI body is the raw content), so switching it off changes nothing
but the cost. Twisted documents the switch: `Request(parsePOSTFormSubmission=False)`.

Two limits sit here too, because daphne applies them before the application can: webhook bodies
(`refuse_large_bodies`) and websocket frames (`close_oversized_frames`).
"""
from __future__ import annotations

from daphne.http_protocol import WebRequest
from daphne.ws_protocol import WebSocketProtocol


def skip_form_parsing() -> None:
    """Make daphne's requests skip Twisted's form parsing (once per process)."""
    if getattr(WebRequest, "_switchboard_skips_forms", False):
        return
    original = WebRequest.__init__

    def __init__(self, *args, **kwargs):
        kwargs["parsePOSTFormSubmission"] = False
        original(self, *args, **kwargs)

    WebRequest.__init__ = __init__
    WebRequest._switchboard_skips_forms = True


_REFUSED = (b"HTTP/1.1 413 Content Too Large\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n%s")


def refuse_large_bodies(*, prefix: bytes, limit: int) -> None:
    """Twisted reads a whole request body (to a temporary file past 100 KB) before daphne hands the
    application a byte of it, so the application's own limit comes after the read. Under `prefix`, a
    body declared or grown past `limit` is answered 413 at once; the rest is read and dropped, never
    kept, and the connection closes when it ends (a client still sending then reads the answer)."""
    if getattr(WebRequest, "_switchboard_limits_bodies", False):
        return
    got_length, content_chunk, process = WebRequest.gotLength, WebRequest.handleContentChunk, WebRequest.process
    body = b'{"error": "body larger than %d bytes"}' % limit

    def refuse(self):
        self._switchboard_refused = True
        self.channel.transport.write(_REFUSED % (len(body), body))

    def gotLength(self, length):
        # The channel's request line is parsed and the headers are in: the path is known, the body is not.
        self._switchboard_limit = limit if getattr(self.channel, "_path", b"").startswith(prefix) else None
        self._switchboard_size = 0
        if self._switchboard_limit is not None and length is not None and length > limit:
            got_length(self, 0)  # an in-memory buffer that stays empty
            return refuse(self)
        got_length(self, length)

    def handleContentChunk(self, data):
        if self._switchboard_refused:
            return
        self._switchboard_size += len(data)
        if self._switchboard_limit is not None and self._switchboard_size > self._switchboard_limit:
            return refuse(self)
        content_chunk(self, data)

    def process_(self):
        if self._switchboard_refused:
            return self.channel.loseConnection()
        process(self)

    WebRequest._switchboard_refused = False
    WebRequest._switchboard_limit = None
    WebRequest.gotLength, WebRequest.handleContentChunk, WebRequest.process = gotLength, handleContentChunk, process_
    WebRequest._switchboard_limits_bodies = True


def close_oversized_frames(*, limit: int, code: int) -> None:
    """Autobahn fails a socket whose frame or message passes daphne's limit (1 MiB unless set on
    daphne's command line) by dropping TCP: the client sees 1006, and the consumer, which closes
    with the documented code above its own smaller limit, never sees the frame. Here the server's
    limit is the application's, checked on the frame header before the payload is buffered, and
    answered with the application's close code."""
    if getattr(WebSocketProtocol, "_switchboard_frame_limit", False):
        return
    on_connect = WebSocketProtocol.onConnect

    def onConnect(self, request):
        self.maxFramePayloadSize = self.maxMessagePayloadSize = limit
        return on_connect(self, request)

    def _max_message_size_exceeded(self, size, max_size, reason):
        self.failedByMe = True  # autobahn then drops the rest of the message instead of buffering it
        self.sendCloseFrame(code=code, reasonUtf8=b"frame too big", isReply=False)

    WebSocketProtocol.onConnect = onConnect
    WebSocketProtocol._max_message_size_exceeded = _max_message_size_exceeded
    WebSocketProtocol._switchboard_frame_limit = True
