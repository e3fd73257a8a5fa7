"""The one way services emit socket events: stored with a per-recipient seq, sent after commit.

`emit(name, data, user_ids)` inside a service's transaction stores one UserEvent per
recipient (seq from EventCursor, incremented by an UPDATE that holds the row lock until
commit, so seqs are gap-free and ordered), and after commit publishes the frames to each
user's group in one batch. Sync callers (Celery, webhook processing) publish through one
long-lived event loop thread: no new loop and Redis connection per event.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterable

from channels.layers import get_channel_layer
from django.db import connection, transaction

from core.events import EPHEMERAL, check_payload
from core.models import UserEvent

logger = logging.getLogger("switchboard.realtime")


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def team_group(team_id: int) -> str:
    return f"team.{team_id}"


ADMIN_GROUP = "admins"


def allocate_seqs(user_ids: list[int], count: int = 1) -> dict[int, int]:
    """Reserve `count` seqs per user; returns the last one reserved. Holds the cursor row locks
    until the surrounding transaction ends, so seqs commit in order and without gaps."""
    ids = sorted(set(user_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO core_eventcursor (user_id, last_seq)
            SELECT unnest(%s::bigint[]), %s
            ON CONFLICT (user_id) DO UPDATE SET last_seq = core_eventcursor.last_seq + EXCLUDED.last_seq
            RETURNING user_id, last_seq
            """,
            [ids, count],
        )
        return dict(cursor.fetchall())


def emit(name: str, data: dict, user_ids: Iterable[int]) -> None:
    """Store the event for each recipient and send it after the transaction commits."""
    emit_many([(name, data)], user_ids)


def emit_many(events: list[tuple[str, dict]], user_ids: Iterable[int]) -> None:
    """Several events to the same recipients: one seq allocation and one INSERT for all of them."""

    for name, data in events:
        check_payload(name, data)
    recipients = sorted(set(user_ids))
    if not recipients or not events:
        return
    stored = [(n, d) for n, d in events if n not in EPHEMERAL]
    ephemeral = [(n, d) for n, d in events if n in EPHEMERAL]
    if ephemeral:
        frames = [(user_group(u), {"event": n, "seq": None, "data": d}) for n, d in ephemeral for u in recipients]
        transaction.on_commit(lambda: publish(frames))
    if not stored:
        return
    last = allocate_seqs(recipients, count=len(stored))
    rows, frames = [], []
    for index, (name, data) in enumerate(stored):
        for user_id in recipients:
            seq = last[user_id] - len(stored) + 1 + index
            rows.append(UserEvent(user_id=user_id, seq=seq, name=name, data=data))
            frames.append((user_group(user_id), {"event": name, "seq": seq, "data": data}))
    UserEvent.objects.bulk_create(rows)
    _queue_after_commit(frames)


def broadcast(name: str, data: dict, groups: Iterable[str]) -> None:
    """An event that is not stored (no seq), sent once per group after commit. For state a client
    re-reads on reconnect, where storing a row per recipient would cost more than it saves:
    presence in a team of N managers is N² rows a minute otherwise."""
    check_payload(name, data)
    frames = [(group, {"event": name, "seq": None, "data": data}) for group in sorted(set(groups))]
    transaction.on_commit(lambda: publish(frames))


def _queue_after_commit(frames: list) -> None:
    # One publish per transaction, however many events it emitted.
    conn = transaction.get_connection()
    pending = getattr(conn, "_switchboard_frames", None)
    if pending is None or not conn.in_atomic_block:
        pending = []
        conn._switchboard_frames = pending

        def flush():
            batch = list(pending)
            pending.clear()
            conn._switchboard_frames = None
            publish(batch)

        transaction.on_commit(flush)
    pending.extend(frames)


class _Publisher:
    """A daemon thread running one event loop; the channel layer keeps its connections there."""

    def __init__(self):
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or not self._loop.is_running():
                loop = asyncio.new_event_loop()
                started = threading.Event()

                def run():
                    asyncio.set_event_loop(loop)
                    loop.call_soon(started.set)
                    loop.run_forever()

                threading.Thread(target=run, name="realtime-publisher", daemon=True).start()
                started.wait()
                self._loop = loop
            return self._loop


_publisher = _Publisher()


async def _send_all(frames: list) -> None:
    """Groups in parallel, each group's frames in seq order: a frame overtaking its predecessor
    would make the socket fetch the "missing" one from the database for nothing."""
    layer = get_channel_layer()
    by_group: dict[str, list] = {}
    for group, frame in frames:
        by_group.setdefault(group, []).append(frame)

    async def send_in_order(group: str, items: list) -> None:
        for frame in items:
            await layer.group_send(group, {"type": "inbox.event", "frame": frame})

    await asyncio.gather(*(send_in_order(group, items) for group, items in by_group.items()))


def publish(frames: list, *, wait: bool = True) -> None:
    """Send frames to their groups. Loss here is tolerated: clients recover by seq and resume."""
    if not frames:
        return
    try:
        asyncio.get_running_loop()
        running = True
    except RuntimeError:
        running = False
    if running:
        # Called from async code (an ASGI view): schedule on this loop, don't block it.
        asyncio.ensure_future(_send_all(frames))
        return
    future = asyncio.run_coroutine_threadsafe(_send_all(frames), _publisher.loop())
    if wait:
        try:
            future.result(timeout=5)
        except Exception:
            logger.warning("publish of %d frames failed; clients recover with resume", len(frames), exc_info=True)
