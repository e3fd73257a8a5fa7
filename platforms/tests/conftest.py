"""A fake provider API and a fake SMTP server, both real servers on loopback.

The adapters are pure Python: these tests need no database, Redis or Django settings.
"""
from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from aiosmtpd.controller import Controller


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class FakeProvider:
    base_url: str = ""
    requests: list[Received] = field(default_factory=list)
    status: int = 200
    answer: dict | bytes = field(default_factory=dict)
    delay: float = 0.0
    # Called with each request before it is answered: a provider that posts a status webhook
    # before answering the send, as real ones sometimes do.
    before_answer: Callable[[Received], None] | None = None

    def reply(self, status: int, answer: dict | bytes | None = None, *, delay: float = 0.0) -> None:
        self.status, self.answer, self.delay = status, answer if answer is not None else {}, delay

    @property
    def last(self) -> Received:
        assert self.requests, "the provider received no request"
        return self.requests[-1]


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's naming
        provider: FakeProvider = self.server.provider
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        headers = {key.lower(): value for key, value in self.headers.items()}
        provider.requests.append(Received("POST", self.path, headers, body))
        if provider.before_answer:
            provider.before_answer(provider.requests[-1])
        time.sleep(provider.delay)
        answer = provider.answer if isinstance(provider.answer, bytes) else json.dumps(provider.answer).encode()
        try:
            self.send_response(provider.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
        except OSError:
            pass  # the client gave up (timeout test)

    def log_message(self, *args):
        pass


@pytest.fixture
def provider():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.provider = FakeProvider(base_url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.provider
    server.shutdown()
    server.server_close()




@pytest.fixture
def http():
    """Named `http`, not `client`, so it does not shadow pytest-django's test client."""
    with httpx.Client(timeout=httpx.Timeout(2.0, read=0.3)) as session:
        yield session


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpRecorder:
    def __init__(self):
        self.envelopes = []
        self.rcpt_reply = ""  # e.g. "550 5.1.1 No such user" to refuse recipients
        self.data_delay = 0.0  # seconds to sit on an accepted message before answering DATA

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd hook
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook
        self.envelopes.append(envelope)
        await asyncio.sleep(self.data_delay)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    recorder = SmtpRecorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    recorder.host, recorder.port = controller.hostname, controller.port
    yield recorder
    controller.stop()
