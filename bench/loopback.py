"""A loopback fake of the WhatsApp Cloud API `messages` endpoint: a real HTTP/1.1 server on
127.0.0.1 that answers each send after a fixed delay and counts what it received.

    POST /{version}/{phone_number_id}/messages   Authorization: Bearer <token>
    {"messaging_product": "whatsapp", "to": "<wa_id>", "type": "text", "text": {"body": "..."}, ...}
    → 200 {"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}],
           "messages": [{"id": "wamid.…"}]}

A wrong path, token or body gets Graph's error shape (HTTP 400/401/404 with error.code) and is
counted as malformed. The server is raw asyncio (no dependency) on its own event loop in a
thread, so hundreds of requests wait out their delay at once; only the delay is simulated.

Messages are identified by (to, text body) — the bench gives every message a unique body, so
this holds whatever idempotency key the app sends — and, separately, by the
`biz_opaque_callback_data` the app puts on the request.
"""
from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections import Counter

PATH = re.compile(r"^/v\d+\.\d+/(?P<pnid>[^/]+)/messages/?$")


def _graph_error(status: int, code: int, message: str, kind: str = "OAuthException") -> tuple[int, dict]:
    return status, {"error": {"message": message, "type": kind, "code": code, "fbtrace_id": "bench"}}


class LoopbackGraph:
    def __init__(self, *, phone_number_id: str, token: str, delay_s: float = 0.1):
        self.phone_number_id, self.token, self.delay_s = phone_number_id, token, delay_s
        self.lock = threading.Lock()
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server = None
        self.reset()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        with self.lock:
            self.by_message: Counter[tuple[str, str]] = Counter()  # (to, body) → requests
            self.by_callback: Counter[str] = Counter()  # biz_opaque_callback_data → requests
            self.answered: dict[tuple[str, str], str] = {}  # (to, body) → the last wamid given
            self.arrivals: list[tuple[float, str]] = []  # (time.monotonic() when the request was read, to)
            self.total = 0
            self.malformed = 0
            self.malformed_examples: list[str] = []
            self.in_flight = 0
            self.max_in_flight = 0
            self.connections = 0

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> LoopbackGraph:
        ready = threading.Event()

        def run() -> None:
            loop = self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._server = loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=4096))
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            loop.run_forever()
            self._server.close()
            loop.run_until_complete(self._server.wait_closed())
            loop.close()

        self._thread = threading.Thread(target=run, name="loopback-graph", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the loopback Graph server did not start")
        return self

    def stop(self) -> None:
        if self._loop and self._thread and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self) -> LoopbackGraph:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- figures -----------------------------------------------------------------------------

    def duplicates(self) -> int:
        """Messages (to, body) received more than once."""
        with self.lock:
            return sum(1 for n in self.by_message.values() if n > 1)

    def callback_duplicates(self) -> int:
        with self.lock:
            return sum(1 for key, n in self.by_callback.items() if key and n > 1)

    # ---- HTTP --------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with self.lock:
            self.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                request_line, *header_lines = head.decode("latin1").split("\r\n")
                headers = {}
                for line in header_lines:
                    if ":" in line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                method, _, rest = request_line.partition(" ")
                path = rest.rpartition(" ")[0] or rest
                if headers.get("transfer-encoding", "").lower() == "chunked":
                    body = b""
                    while True:
                        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                        chunk = await reader.readexactly(size + 2)
                        if size == 0:
                            break
                        body += chunk[:-2]
                else:
                    body = await reader.readexactly(int(headers.get("content-length") or 0))
                status, answer = self._answer(method, path.split("?")[0], headers, body)
                with self.lock:
                    self.in_flight += 1
                    self.max_in_flight = max(self.max_in_flight, self.in_flight)
                try:
                    await asyncio.sleep(self.delay_s)
                finally:
                    with self.lock:
                        self.in_flight -= 1
                data = json.dumps(answer, separators=(",", ":")).encode()
                close = headers.get("connection", "").lower() == "close"
                writer.write(f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\nContent-Type: application/json\r\n"
                             f"Content-Length: {len(data)}\r\nConnection: {'close' if close else 'keep-alive'}\r\n\r\n"
                             .encode("latin1") + data)
                await writer.drain()
                if close:
                    return
        except (ConnectionError, asyncio.LimitOverrunError, ValueError):
            return
        finally:
            writer.close()

    def _bad(self, why: str, answer: tuple[int, dict]) -> tuple[int, dict]:
        with self.lock:
            self.malformed += 1
            if len(self.malformed_examples) < 5:
                self.malformed_examples.append(why)
        return answer

    def _answer(self, method: str, path: str, headers: dict, body: bytes) -> tuple[int, dict]:
        match = PATH.match(path)
        if method != "POST" or not match or match["pnid"] != self.phone_number_id:
            return self._bad(f"{method} {path}", _graph_error(404, 100, "Unsupported post request.", "GraphMethodException"))
        if headers.get("authorization") != f"Bearer {self.token}":
            return self._bad("bad token", _graph_error(401, 190, "Invalid OAuth access token."))
        try:
            payload = json.loads(body)
        except ValueError:
            return self._bad("body is not JSON", _graph_error(400, 100, "Invalid parameter"))
        if not isinstance(payload, dict) or payload.get("messaging_product") != "whatsapp" or not payload.get("to"):
            return self._bad("messaging_product/to", _graph_error(400, 100, "Invalid parameter"))
        kind = payload.get("type", "text")
        if kind == "text" and isinstance(payload.get("text"), dict) and isinstance(payload["text"].get("body"), str):
            content = payload["text"]["body"]
        elif kind == "template" and isinstance(payload.get("template"), dict) and payload["template"].get("name"):
            content = "template:" + json.dumps(payload["template"], sort_keys=True)
        else:
            return self._bad(f"type {kind!r} without its object", _graph_error(400, 100, "Invalid parameter"))
        to = str(payload["to"])
        key = (to, content)
        with self.lock:
            self.arrivals.append((time.monotonic(), to))
            self.total += 1
            self.by_message[key] += 1
            self.by_callback[str(payload.get("biz_opaque_callback_data") or "")] += 1
            wamid = f"wamid.bench{self.total:08d}"
            self.answered[key] = wamid
        answer = {"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to.lstrip("+")}],
                  "messages": [{"id": wamid, **({"message_status": "accepted"} if kind == "template" else {})}]}
        return 200, answer


async def http_baseline(fake: LoopbackGraph, *, requests: int, concurrency: int) -> dict:
    """What this machine and the fake do without the app: `concurrency` keep-alive clients post
    well-formed sends back to back (closed loop). Counts as the fake's own requests: reset after."""
    from bench.load import HttpPool, http_request

    pool = HttpPool(fake.port, max_conns=concurrency)
    left = iter(range(requests))
    ok = failed = 0

    async def client() -> None:
        nonlocal ok, failed
        for i in left:
            body = json.dumps({"messaging_product": "whatsapp", "to": f"4900{i:08d}", "type": "text",
                               "text": {"body": f"baseline {i}"}}).encode()
            raw = http_request("POST", f"/v21.0/{fake.phone_number_id}/messages", fake.port, body,
                               {"Authorization": f"Bearer {fake.token}", "Content-Type": "application/json"})
            status, _, _ = await pool.request(raw)
            ok, failed = (ok + 1, failed) if status == 200 else (ok, failed + 1)

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    wall = time.perf_counter() - t0
    pool.close()
    return {"requests_per_s": round(ok / wall, 1), "ok": ok, "failed": failed, "max_in_flight": fake.max_in_flight}
