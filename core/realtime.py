"""The one way services emit socket events: recorded in the transaction, sequenced after it.

`emit(name, data, user_ids)` inside a service's transaction writes one EventOutbox row (the
events and their recipients) and takes no lock another transaction needs: no per-recipient
counter is touched while business rows are locked (PITFALLS.md, "A lock every transaction needs
is a global mutex"). After commit the relay drains the outbox oldest first under one advisory
lock, in short transactions of its own: it allocates each recipient's next seqs (gap-free,
increasing by one), stores the UserEvents for resume, deletes the rows, commits, then publishes
the frames. A rollback leaves nothing behind (the row goes with it, on_commit never fires); a
process killed between commit and relay leaves the row for the next relay or the beat sweep
(core.tasks.relay_events); the same row is never relayed twice (deleted in the relay's own
transaction, under the lock). Sync callers (Celery, webhook processing) publish through one
long-lived event loop thread: no new loop and Redis connection per event.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable

from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.db import connection, transaction

from core.copy import copy_insert
from core.events import EPHEMERAL, check_payload
from core.models import EventOutbox, UserEvent

logger = logging.getLogger("switchboard.realtime")
RELAY_LOCK = 0x5B_0E_7E_17  # pg advisory lock key: one relay at a time, so seqs follow commit order
RELAY_BATCH = 500


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def team_group(team_id: int) -> str:
    return f"team.{team_id}"


ADMIN_GROUP = "admins"


def allocate_seqs(counts: dict[int, int]) -> dict[int, int]:
    """Reserve counts[user] seqs per user; returns the last one reserved. Runs in the relay's own
    short transaction, in user id order (so two relays could never deadlock, even without the lock)."""
    ids = sorted(counts)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO core_eventcursor (user_id, last_seq)
            SELECT * FROM unnest(%s::bigint[], %s::bigint[])
            ON CONFLICT (user_id) DO UPDATE SET last_seq = core_eventcursor.last_seq + EXCLUDED.last_seq
            RETURNING user_id, last_seq
            """,
            [ids, [counts[i] for i in ids]],
        )
        return dict(cursor.fetchall())


def emit(name: str, data: dict, user_ids: Iterable[int]) -> None:
    """Record the event for its recipients; it is sequenced and sent after the transaction commits."""
    emit_many([(name, data)], user_ids)


def emit_many(events: list[tuple[str, dict]], user_ids: Iterable[int]) -> None:
    """Several events to the same recipients: one outbox row for all of them."""
    for name, data in events:
        check_payload(name, data)
    recipients = sorted(set(user_ids))
    if not recipients or not events:
        return
    stored = [[n, d] for n, d in events if n not in EPHEMERAL]
    ephemeral = [(n, d) for n, d in events if n in EPHEMERAL]
    if ephemeral:
        frames = [(user_group(u), {"event": n, "seq": None, "data": d}) for n, d in ephemeral for u in recipients]
        transaction.on_commit(lambda: publish(frames), robust=True)
    if stored:
        EventOutbox.objects.create(recipients=recipients, events=stored)
        # Registered per emit, never kept on the connection: a rollback drops it with the row.
        transaction.on_commit(relay, robust=True)


def emit_each(batches: Iterable[tuple[list[tuple[str, dict]], Iterable[int]]]) -> None:
    """Many (events, recipients) pairs at once, for set-based writers: one INSERT of their outbox
    rows and one relay after commit, not one of each per pair. Stored events only."""
    rows = []
    for events, user_ids in batches:
        for name, data in events:
            check_payload(name, data)
            if name in EPHEMERAL:
                raise ValueError(f"{name} is ephemeral: emit_each stores events")
        recipients = sorted(set(user_ids))
        if recipients and events:
            rows.append(EventOutbox(recipients=recipients, events=[[n, d] for n, d in events]))
    if rows:
        EventOutbox.objects.bulk_create(rows)
        transaction.on_commit(relay, robust=True)


def broadcast(name: str, data: dict, groups: Iterable[str]) -> None:
    """An event that is not stored (no seq), sent once per group after commit. For state a client
    re-reads on reconnect, where storing a row per recipient would cost more than it saves:
    presence in a team of N managers is N² rows a minute otherwise."""
    check_payload(name, data)
    frames = [(group, {"event": name, "seq": None, "data": data}) for group in sorted(set(groups))]
    transaction.on_commit(lambda: publish(frames), robust=True)


ACCESS_CHANGED = "inbox.access_changed"  # the channel-layer message a socket closes on (CLOSE_ACCESS_CHANGED)


def access_changed(user_ids: Iterable[int]) -> None:
    """The users' role or team changes in the caller's transaction. Events are addressed per user
    when emitted, so those stored so far were addressed under the old access: after commit, what
    is still in the outbox is relayed, then each user's access floor moves to their last seq — a
    resume from before it is answered `reload`, never replayed — and their open sockets are told
    to close (CLOSE_ACCESS_CHANGED) and reconnect with the new access's groups. A close lost by the
    channel layer is made up by the per-process socket check, which compares floors (core.presence).
    Left open: an event another transaction addressed under the old access and commits after this
    one reaches the user once, like any event emitted just before a change."""
    ids = sorted(set(user_ids))
    if not ids:
        return

    def apply() -> None:
        relay()
        users = get_user_model()._meta.db_table
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO core_eventcursor (user_id, last_seq, access_floor)
                SELECT u, 0, 0 FROM unnest(%s::bigint[]) AS u WHERE u IN (SELECT id FROM {users})
                ON CONFLICT (user_id) DO UPDATE SET access_floor = core_eventcursor.last_seq
                """,
                [ids],
            )
        publish_control([user_group(u) for u in ids], ACCESS_CHANGED)

    transaction.on_commit(apply, robust=True)


def publish_control(groups: Iterable[str], kind: str) -> None:
    """A message of type `kind` (no frame) to each group's sockets, e.g. ACCESS_CHANGED."""
    groups = sorted(set(groups))

    async def send() -> None:
        layer = get_channel_layer()
        await asyncio.gather(*(layer.group_send(group, {"type": kind}) for group in groups))

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        future = asyncio.run_coroutine_threadsafe(send(), _publisher.loop())
        try:
            future.result(timeout=2)
        except Exception:
            logger.warning("control message %s to %d groups failed; the socket check makes it up", kind, len(groups),
                           exc_info=True)
        return
    asyncio.ensure_future(send())


def _relay_batch(limit: int) -> tuple[int, list]:
    """One relay transaction: the oldest waiting rows, sequenced, stored and deleted."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [RELAY_LOCK])
        rows = list(EventOutbox.objects.order_by("id")[:limit])
        if not rows:
            return 0, []
        wanted = {u for row in rows for u in row.recipients}
        # A user deleted since the event was recorded gets nothing (and must not block the rest).
        alive = set(get_user_model().objects.filter(id__in=wanted).values_list("id", flat=True))
        counts: Counter[int] = Counter()
        for row in rows:
            for user_id in row.recipients:
                if user_id in alive:
                    counts[user_id] += len(row.events)
        last = allocate_seqs(dict(counts)) if counts else {}
        following = {u: last[u] - n + 1 for u, n in counts.items()}
        stored, frames = [], []
        for row in rows:
            for name, data in row.events:
                for user_id in row.recipients:
                    if user_id not in alive:
                        continue
                    seq = following[user_id]
                    following[user_id] += 1
                    stored.append((user_id, seq, name, data))
                    frames.append((user_group(user_id), {"event": name, "seq": seq, "data": data}))
        copy_insert(UserEvent, ("user_id", "seq", "name", "data"), stored)  # COPY: one event to 1,000 managers is 1,000 rows
        EventOutbox.objects.filter(id__in=[row.id for row in rows]).delete()
    return len(rows), frames


def relay(*, limit: int = RELAY_BATCH) -> int:
    """Sequence, store and publish every waiting outbox row, oldest first; returns how many rows.
    Safe to call from anywhere at any time: after each commit that emitted, and from beat."""
    total = 0
    while True:
        count, frames = _relay_batch(limit)
        publish(frames)
        total += count
        if count < limit:
            return total


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
_layer_down_until = [0.0]


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
    if wait and time.monotonic() >= _layer_down_until[0]:
        try:
            future.result(timeout=2)
        except Exception:
            # The events are stored: sockets catch up from the heartbeat's seq or on resume. Until
            # the layer answers again, publishes stop waiting, so no caller stalls on Redis.
            _layer_down_until[0] = time.monotonic() + 10
            logger.warning("publish of %d frames failed; clients recover with resume", len(frames), exc_info=True)
