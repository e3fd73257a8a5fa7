"""The inbox socket: authenticate, join groups, relay stored events in seq order, take actions.

Thin: every state change goes through a service; this module only orders frames and
enforces the socket's limits. Seq gaps (the channel layer drops at most once) are filled
from the database, so a client never misses an event.
"""
from __future__ import annotations

import asyncio
import json
import time

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from core import presence
from core.ws_auth import (
    CLOSE_ACCESS_CHANGED,
    CLOSE_FORBIDDEN,
    CLOSE_TOO_BIG,
    CLOSE_TOO_MANY,
    CLOSE_UNAUTHENTICATED,
    after_from_scope,
    ticket_from_scope,
)
from inbox import socket_actions
from inbox.socket_state import REPLAY_PAGE, connect_identity, last_seq, replay_after, socket_closed, socket_opened


class InboxConsumer(AsyncWebsocketConsumer):
    user_id: int | None = None
    server_seq = 0

    async def dispatch(self, message):
        """As Channels does, without its `aclose_old_connections()` before every message: that is a
        hop onto the one shared sync thread for each frame to each socket (18 % of the server's
        event loop at 250 webhooks/s, bench/DECISIONS.md). Every database call here goes through
        database_sync_to_async, which closes stale connections around itself."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"no handler for message type {message['type']}")
        await handler(message)

    async def connect(self):
        await self.accept()
        if not self.scope.get("origin_ok", False):
            return await self.close(code=CLOSE_FORBIDDEN)
        ticket = ticket_from_scope(self.scope)
        identity = await database_sync_to_async(connect_identity)(
            user=self.scope.get("user"), ticket=ticket, session=self.scope.get("session"))
        if identity is None:
            return await self.close(code=CLOSE_UNAUTHENTICATED)
        self.user_id, self.identity, self.user = identity.user_id, identity, identity.user
        self.groups_joined = identity.groups
        for group in identity.groups:
            await self.channel_layer.group_add(group, self.channel_name)
        # Read the cursor only once subscribed: every later event then arrives live (or by gap fill).
        identity.last_seq = await database_sync_to_async(socket_opened)(identity=identity)
        self.delivered = identity.last_seq
        self.delivering = asyncio.Lock()
        self.action_times: list[float] = []
        presence.register(self)
        await self.send_json({"event": "ready", "seq": None, "data": {"seq": identity.last_seq, "user_id": identity.user_id}})
        after = after_from_scope(self.scope)
        if after is not None and after < self.delivered:
            # A reconnect with ?after=N: the missed frames come first, in order; live frames wait
            # (the consumer handles no channel message until connect returns).
            self.delivered = after
            await self._fill(until=None)
        self.heartbeat = asyncio.ensure_future(self._heartbeat())

    async def disconnect(self, code):
        if not self.user_id:
            return
        self.heartbeat.cancel()
        presence.unregister(self)
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        if self.identity.rep_id:
            await database_sync_to_async(socket_closed)(rep_id=self.identity.rep_id)

    async def send_json(self, data: dict) -> None:
        await self.send(text_data=json.dumps(data, separators=(",", ":")))

    async def _heartbeat(self):
        while True:
            await asyncio.sleep(settings.WS_HEARTBEAT_SECONDS)
            # The server's seq for this user (from the batched check), not the socket's own counter.
            await self.send_json({"event": "heartbeat", "seq": None, "data": {"seq": max(self.server_seq, self.delivered)}})

    async def server_seq_is(self, seq: int) -> None:
        """The periodic check's news (core.presence): a live frame this socket never got is filled."""
        self.server_seq = max(self.server_seq, seq)
        async with self.delivering:
            if seq > self.delivered:
                await self._fill(until=None)

    # ---- frames from services -----------------------------------------------------------

    async def inbox_event(self, message):
        frame = message["frame"]
        seq = frame.get("seq")
        if seq is None:
            return await self.send_json(frame)
        async with self.delivering:  # one deliverer at a time: live frames, gap fills, resume
            if seq <= self.delivered:
                return  # already sent by a resume or a gap fill
            if seq > self.delivered + 1:
                await self._fill(until=seq)
                if seq <= self.delivered:
                    return
            await self.send_json(frame)
            self.delivered = seq

    async def inbox_revoke(self, message):
        await self.close(code=CLOSE_UNAUTHENTICATED)

    async def inbox_access_changed(self, message):
        """core.realtime.access_changed: this socket's groups are the old role's or team's."""
        await self.close(code=CLOSE_ACCESS_CHANGED)

    async def _fill(self, *, until: int | None) -> bool:
        """Stored frames after the last delivered one, page after page until caught up (or `until`)."""
        while True:
            frames = await database_sync_to_async(replay_after)(user_id=self.user_id, after=self.delivered, until=until)
            if frames is None:
                reason = "events before this point are not replayed (retention window, or a change of role or team)"
                await self.send_json({"event": "reload", "seq": None, "data": {"reason": reason}})
                # The client reloads its state: go on from now, not from the unreplayable point again.
                self.delivered = max(self.delivered, await database_sync_to_async(last_seq)(self.user_id))
                return False
            for frame in frames:
                if frame["seq"] > self.delivered:
                    await self.send_json(frame)
                    self.delivered = frame["seq"]
            if len(frames) < REPLAY_PAGE:
                return True

    # ---- client actions -------------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        if not self.user_id:
            return
        size = len(text_data.encode()) if text_data is not None else len(bytes_data or b"")
        if size > settings.WS_MAX_FRAME_BYTES:
            return await self.close(code=CLOSE_TOO_BIG)
        now = time.monotonic()
        self.action_times = [t for t in self.action_times if now - t < 1.0] + [now]
        if len(self.action_times) > settings.WS_MAX_ACTIONS_PER_SECOND:
            await self.send_json(socket_actions.error_frame("rate_limited", "more than 20 actions a second"))
            return await self.close(code=CLOSE_TOO_MANY)
        try:
            payload = json.loads(text_data) if text_data is not None else None
        except ValueError:
            return await self.send_json(socket_actions.error_frame("bad_json", "frame is not JSON"))
        action, args, problem = socket_actions.parse(payload)
        if problem:
            return await self.send_json(socket_actions.error_frame("bad_action", problem))
        if action == "resume":
            async with self.delivering:
                self.delivered = args["after"]
                await self._fill(until=None)
            return
        reply = await database_sync_to_async(socket_actions.perform)(user=self.user, action=action, args=args)
        await self.send_json(reply)
