"""A fake channel service on loopback: a real HTTP server that honours Idempotency-Key like
Twilio or Stripe do, and counts what it really accepted."""
from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeProvider:
    def __init__(self, *, delay: float = 0.0, status: int = 200, error: dict | None = None):
        self.delay, self.status, self.error = delay, status, error
        self.accepted: dict[str, str] = {}  # idempotency key -> provider id
        self.requests: Counter[str] = Counter()
        self.bodies: list[dict] = []
        self.calls: list[tuple[str, dict[str, str], bytes]] = []  # path, headers, raw body: what a platform would check
        self.lock = threading.Lock()
        # Requests being answered right now, overall and per recipient ("to"): the most seen at once.
        self.in_flight: Counter[str] = Counter()
        self.max_in_flight = 0
        self.max_in_flight_to: Counter[str] = Counter()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                key = self.headers.get("Idempotency-Key", "")
                to = str(json.loads(body or b"{}").get("to", ""))
                with provider.lock:
                    provider.in_flight[to] += 1
                    provider.max_in_flight = max(provider.max_in_flight, provider.in_flight.total())
                    provider.max_in_flight_to[to] = max(provider.max_in_flight_to[to], provider.in_flight[to])
                if provider.delay:
                    time.sleep(provider.delay)
                with provider.lock:
                    provider.in_flight[to] -= 1
                    provider.requests[key] += 1
                    provider.bodies.append(json.loads(body or b"{}"))
                    provider.calls.append((self.path, dict(self.headers.items()), body))
                    status = provider.status
                    if status < 300:
                        provider.accepted.setdefault(key, f"prov-{len(provider.accepted) + 1}")
                        answer = {"id": provider.accepted[key]}
                    else:
                        answer = {"error": provider.error or {"code": str(status), "message": "refused"}}
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeProvider:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
