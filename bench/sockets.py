"""Many websocket clients in one process: connect with tickets, read every frame, time the marked ones.

A marked frame is a `message.created` whose body carries `bm<step>x<index>z`; its arrival time
(perf_counter, the clock the load generator stamps sends with) is kept per marker and socket.
When the harness says which user a marker is for (`expect`), only that user's socket counts as its
arrival; the same frame on the sockets of that rep's managers and admin (`allowed`) is counted as
audience, anywhere else as misrouted. Status ticks (`message.updated` / `messages.changed` of the
messages in `track`) are timed on their rep's socket.
"""
from __future__ import annotations

import asyncio
import json
import re
import resource
import time
from collections import Counter, defaultdict

import websockets
from websockets.asyncio.client import connect

MARK = re.compile(r"bm(\d+)x(\d+)z")
now = time.perf_counter


def raise_open_files() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def marker(step: int, index: int) -> str:
    return f"bm{step}x{index}z"


class Fleet:
    def __init__(self, ws_base: str):
        self.ws_base = ws_base  # ws://127.0.0.1:PORT
        self.sockets: list[tuple[int, object, asyncio.Task]] = []
        self.first: dict[str, tuple[float, int]] = {}  # marker -> (first arrival, user id)
        self.every: dict[str, list[float]] = defaultdict(list)  # marker -> every arrival (fan-out)
        self.per_step: Counter = Counter()  # distinct markers arrived, by step
        self.events: Counter = Counter()
        self.frames = 0
        self.activity = 0  # frames other than the server's heartbeats
        self.closed_by_server = 0
        self.expect: dict[str, int] = {}  # marker -> the user whose socket it is for
        self.allowed: dict[int, frozenset[int]] = {}  # rep user -> other users shown the rep's events
        self.misrouted = 0
        self.audience_frames = 0
        self.track: dict[int, int] = {}  # message id -> rep user whose socket shows its ticks
        self.ticks: dict[tuple[int, str], float] = {}  # (message id, status) -> first arrival on the rep's socket
        self.tick_counts: Counter = Counter()  # distinct (message, status) ticks on their rep's socket, by status
        self.tick_audience = 0  # tick frames of tracked messages on the other sockets of their audience

    @property
    def size(self) -> int:
        return len(self.sockets)

    async def connect_one(self, uid: int, path: str, failures: Counter, timeout: float = 30) -> bool:
        """Open one socket and wait for its `ready` frame (a 4401 close is a failure, not a socket)."""
        try:
            ws = await asyncio.wait_for(self._open(path), timeout)
            first = await asyncio.wait_for(ws.recv(), timeout)
        except (TimeoutError, OSError, websockets.WebSocketException) as exc:
            failures[type(exc).__name__ + (f" {exc.rcvd.code}" if getattr(exc, "rcvd", None) else "")] += 1
            return False
        if '"ready"' not in first:
            failures["not ready: " + first[:60]] += 1
            await ws.close()
            return False
        self.sockets.append((uid, ws, asyncio.ensure_future(self._read(uid, ws))))
        return True

    def _open(self, path: str):
        return connect(self.ws_base + path, ping_interval=None, compression=None, open_timeout=None,
                       close_timeout=2, max_size=2**22, max_queue=None)

    async def _read(self, uid: int, ws) -> None:
        try:
            async for text in ws:
                self.frames += 1
                head = text[:40]
                if not head.startswith('{"event":"heartbeat"'):
                    self.activity += 1
                if "message.created" in head:
                    found = MARK.search(text)
                    if found:
                        self._marked(uid, found)
                    self.events["message.created"] += 1
                elif self.track and ("message.updated" in head or "messages.changed" in head):
                    self._tick(uid, text)
                    self.events["messages.changed" if "messages.changed" in head else "message.updated"] += 1
                elif '"event"' in head:
                    self.events[head.split('"event"', 1)[1].split('"')[1]] += 1
        except websockets.ConnectionClosed:
            pass
        finally:
            if ws.close_code not in (None, 1000):
                self.closed_by_server += 1

    def _marked(self, uid: int, found: re.Match) -> None:
        t, key = now(), found.group(0)
        self.every[key].append(t)
        want = self.expect.get(key)
        if want is None or want == uid:
            if key not in self.first:
                self.first[key] = (t, uid)
                self.per_step[int(found.group(1))] += 1
        elif uid in self.allowed.get(want, ()):
            self.audience_frames += 1
        else:
            self.misrouted += 1

    def _tick(self, uid: int, text: str) -> None:
        t = now()
        data = json.loads(text).get("data") or {}
        for item in data["messages"] if "messages" in data else [data]:
            owner = self.track.get(item.get("id"))
            if owner is None:
                continue
            if owner == uid:
                key = (item["id"], item.get("status"))
                if key not in self.ticks:
                    self.ticks[key] = t
                    self.tick_counts[key[1]] += 1
            else:
                self.tick_audience += 1

    def reset_marks(self) -> None:
        self.first.clear()
        self.every.clear()
        self.expect.clear()

    async def close_all(self) -> None:
        async def close(ws, task):
            try:
                await asyncio.wait_for(ws.close(), 5)
            except (TimeoutError, OSError, websockets.WebSocketException):
                pass
            task.cancel()

        sockets, self.sockets = self.sockets, []
        for i in range(0, len(sockets), 500):
            await asyncio.gather(*(close(ws, task) for _, ws, task in sockets[i:i + 500]))

    async def quiet(self, idle_s: float = 1.0, cap_s: float = 60) -> float:
        """Wait until no frame but heartbeats arrived for idle_s (cap cap_s); returns seconds waited."""
        t0, last, seen = now(), now(), self.activity
        while now() - t0 < cap_s:
            await asyncio.sleep(0.1)
            if self.activity != seen:
                seen, last = self.activity, now()
            elif now() - last >= idle_s:
                break
        return round(now() - t0, 3)
