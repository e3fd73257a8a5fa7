"""A real websocket client for tests: connects to the running daphne and reads frames."""
from __future__ import annotations

import asyncio
import json

import websockets

from core.ws_auth import ticket_issue


class Socket:
    def __init__(self, ws):
        self.ws = ws

    @classmethod
    async def open(cls, base_url: str, user=None, *, ticket: str | None = None, origin: str | None = None,
                   after: int | None = None) -> Socket:
        from asgiref.sync import sync_to_async

        if ticket is None and user is not None:
            ticket = (await sync_to_async(ticket_issue)(user=user)).key
        query = "&".join(([f"ticket={ticket}"] if ticket else []) + ([f"after={after}"] if after is not None else []))
        url = base_url.replace("http://", "ws://") + "/ws/inbox/" + (f"?{query}" if query else "")
        headers = {"Origin": origin} if origin else None
        ws = await websockets.connect(url, additional_headers=headers, max_size=2**22)
        return cls(ws)

    async def frame(self, timeout: float = 10) -> dict:
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def frames_until(self, predicate, timeout: float = 10) -> list[dict]:
        seen = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            frame = await self.frame(max(0.01, deadline - loop.time()))
            seen.append(frame)
            if predicate(frame):
                return seen

    async def quiet(self, seconds: float) -> list[dict]:
        """Frames that arrive within `seconds` (heartbeats excluded)."""
        frames = []
        try:
            while True:
                frame = await self.frame(seconds)
                if frame["event"] != "heartbeat":
                    frames.append(frame)
        except TimeoutError:
            return frames

    async def send(self, data) -> None:
        await self.ws.send(data if isinstance(data, str) else json.dumps(data))

    async def closed_code(self, timeout: float = 10) -> int:
        try:
            while True:
                await asyncio.wait_for(self.ws.recv(), timeout)
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else closed.code

    async def close(self) -> None:
        await self.ws.close()
