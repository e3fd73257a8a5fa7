"""Load generation: raw asyncio HTTP/1.1 keep-alive connections, open-loop and closed-loop drivers.

Open loop: request i is sent at t0 + i/rate whether or not earlier answers came back (a late
generator fires what is due at once and records how late it was), so a slow server shows up
as latency and loss, never as a politely lower offered rate.
"""
from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable

now = time.perf_counter


def http_request(method: str, path: str, port: int, body: bytes = b"", headers: dict | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin1") + body


class HttpPool:
    """Keep-alive connections to one server; a request takes an idle one or opens another (up to max_conns)."""

    def __init__(self, port: int, max_conns: int = 2000):
        self.port, self.max_conns = port, max_conns
        self.idle: deque = deque()
        self.open = 0
        self.stalls = 0  # requests that had to wait for a connection: the generator was not open-loop then

    async def warm(self, n: int) -> None:
        conns = await asyncio.gather(*(self._connect() for _ in range(n)))
        self.idle.extend(conns)

    async def _connect(self):
        self.open += 1
        try:
            return await asyncio.open_connection("127.0.0.1", self.port, limit=1 << 20)
        except OSError:
            self.open -= 1
            raise

    async def _acquire(self):
        waited = False
        while True:
            if self.idle:
                return self.idle.pop()
            if self.open < self.max_conns:
                return await self._connect()
            if not waited:
                self.stalls, waited = self.stalls + 1, True
            await asyncio.sleep(0.001)

    def _drop(self, conn) -> None:
        self.open -= 1
        conn[1].close()

    async def request(self, raw: bytes, on_send: Callable[[float], None] | None = None) -> tuple[int, float, float]:
        """(status, sent at, answered at); status 0 when the connection failed."""
        try:
            conn = await self._acquire()
        except OSError:
            t = now()
            if on_send:
                on_send(t)
            return 0, t, t
        reader, writer = conn
        t0 = now()
        if on_send:
            on_send(t0)
        try:
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            headers = head.decode("latin1").lower()
            if "transfer-encoding: chunked" in headers:
                await _read_chunked(reader)
            else:
                length = _header_int(headers, "content-length")
                if length:
                    await reader.readexactly(length)
            keep = "connection: close" not in headers
        except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            self._drop(conn)
            return 0, t0, now()
        except asyncio.CancelledError:  # the step gave up on this answer
            self._drop(conn)
            raise
        t1 = now()
        if keep:
            self.idle.append(conn)
        else:
            self._drop(conn)
        return status, t0, t1

    def close(self) -> None:
        while self.idle:
            self._drop(self.idle.pop())


def _header_int(headers: str, name: str) -> int:
    start = headers.find(f"\r\n{name}:")
    if start < 0:
        return 0
    end = headers.find("\r\n", start + 2)
    return int(headers[start + len(name) + 3:end].strip())


async def _read_chunked(reader: asyncio.StreamReader) -> None:
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        await reader.readexactly(size + 2)
        if size == 0:
            return


async def open_loop(rate: float, count: int, fire: Callable[[int], Awaitable]) -> dict:
    """Start fire(i) at t0 + i/rate without waiting for earlier ones; returns tasks and schedule lag."""
    tasks, lags = [], []
    t0 = now() + 0.02
    for i in range(count):
        due = t0 + i / rate
        delay = due - now()
        if delay > 0.0005:
            await asyncio.sleep(delay)
        lags.append(max(0.0, now() - due))
        tasks.append(asyncio.ensure_future(fire(i)))
    return {"tasks": tasks, "t0": t0, "t_end": now(), "lags": lags}


async def closed_loop(pool: HttpPool, raw: bytes, concurrency: int, seconds: float) -> dict:
    """`concurrency` clients each sending the next request as soon as the answer came: maximum throughput."""
    latencies: list[float] = []
    errors = 0
    deadline = now() + seconds

    async def client():
        nonlocal errors
        while now() < deadline:
            status, t0, t1 = await pool.request(raw)
            if status == 200:
                latencies.append(t1 - t0)
            else:
                errors += 1

    t_start = now()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    wall = now() - t_start
    return {"requests_per_s": len(latencies) / wall, "errors": errors, **summary(latencies)}


def pct(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return math.nan
    rank = max(0, math.ceil(p / 100 * len(sorted_values)) - 1)
    return sorted_values[rank]


def summary(seconds: list[float], prefix: str = "") -> dict:
    """p50/p95/p99/max in milliseconds."""
    values = sorted(seconds)
    out = {f"{prefix}p{p}_ms": round(pct(values, p) * 1000, 3) for p in (50, 95, 99)}
    out[f"{prefix}max_ms"] = round(values[-1] * 1000, 3) if values else math.nan
    return out
