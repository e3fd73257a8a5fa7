"""Daphne runs on Twisted's HTTP request, which by default parses every POST form body into
`request.args` before the application sees it: the Content-Type through the e-mail header parser
(~3 ms a request, a third of the event loop at 100 webhooks/s in the bench's profile), then the
whole body (`parse_qs`, or multipart) — on the event loop, before any signature check. Daphne
never reads `request.args` (the ASGI body is the raw content), so switching it off changes nothing
but the cost. Twisted documents the switch: `Request(parsePOSTFormSubmission=False)`.
"""
from __future__ import annotations

from daphne.http_protocol import WebRequest


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
