"""The event spine's faults, against the real PostgreSQL and Redis layer: a rollback leaves
nothing and the next commit publishes; a process killed between commit and relay loses nothing;
the same outbox relayed by racers is delivered once; a dead channel layer stalls no caller and
loses nothing; no business transaction holds a counter lock."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.db import connection, transaction

from core import realtime
from core.models import EventCursor, EventOutbox, UserEvent
from core.tasks import relay_events
from inbox.tests.factories import make_user
from inbox.tests.socket_client import Socket

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)


def presence(rep_id: int, *, online: bool = True) -> dict:
    return {"rep_id": rep_id, "online": online, "available": True}


def frames_after(asgi_server, user, action, *, until_seq: int) -> list[dict]:
    """Open a real socket for `user` on daphne, run `action` (sync, in a thread), and return the
    frames with a seq it receives until `until_seq`."""
    async def scenario():
        socket = await Socket.open(asgi_server, user)
        assert (await socket.frame())["event"] == "ready"
        await sync_to_async(action, thread_sensitive=False)()
        frames = await socket.frames_until(lambda f: (f.get("seq") or 0) >= until_seq, timeout=15)
        await socket.ws.close()
        return [f for f in frames if f.get("seq")]

    return async_to_sync(scenario)()


def stored(user) -> list[tuple[int, dict]]:
    return list(UserEvent.objects.filter(user=user).order_by("seq").values_list("seq", "data"))


def test_a_rollback_publishes_nothing_leaves_nothing_and_the_next_commits_publish(asgi_server):
    user = make_user()

    def rollback_then_commits():
        with pytest.raises(RuntimeError), transaction.atomic():
            realtime.emit("rep.presence", presence(1), [user.id])
            raise RuntimeError("a unique constraint, say")
        assert EventOutbox.objects.count() == 0 and UserEvent.objects.count() == 0
        for n in (2, 3, 4):
            with transaction.atomic():
                realtime.emit("rep.presence", presence(n), [user.id])
        connection.close()

    got = frames_after(asgi_server, user, rollback_then_commits, until_seq=3)
    assert [(f["seq"], f["data"]["rep_id"]) for f in got] == [(1, 2), (2, 3), (3, 4)]
    assert [seq for seq, _ in stored(user)] == [1, 2, 3] and EventOutbox.objects.count() == 0


def test_the_business_transaction_takes_no_counter_lock():
    """While one transaction that emitted to the admin is still open, another emitting to the same
    admin commits at once: nothing in the first holds a row the second needs."""
    admin = make_user(superuser=True)
    held = threading.Event()
    release = threading.Event()

    def slow():
        with transaction.atomic():
            realtime.emit("rep.presence", presence(1), [admin.id])
            held.set()
            release.wait(10)
        connection.close()

    thread = threading.Thread(target=slow)
    thread.start()
    assert held.wait(10)
    with transaction.atomic():
        connection.cursor().execute("SET LOCAL lock_timeout = '2s'")  # a lock wait would raise, not hang
        realtime.emit("rep.presence", presence(2), [admin.id])
    assert UserEvent.objects.filter(user=admin).count() == 1  # the committed one is delivered already
    release.set()
    thread.join(10)
    realtime.relay()
    assert [data["rep_id"] for _, data in stored(admin)] == [2, 1]  # sequenced in commit order


def test_a_process_killed_between_commit_and_relay_loses_nothing(asgi_server):
    user = make_user()
    code = (
        "import django, os; django.setup()\n"
        "from django.db import transaction\n"
        "from core import realtime\n"
        "with transaction.atomic():\n"
        "    transaction.on_commit(lambda: os._exit(9))  # runs before the relay's callback\n"
        f"    realtime.emit('rep.presence', {{'rep_id': 7, 'online': True, 'available': True}}, [{user.id}])\n"
    )
    env = {**os.environ, **_db_env()}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, timeout=60)
    assert result.returncode == 9, result.stderr.decode()[-2000:]
    assert EventOutbox.objects.count() == 1 and UserEvent.objects.count() == 0  # committed, never relayed

    def sweep():
        assert relay_events() == 1  # the beat sweep's task
        connection.close()

    (frame,) = frames_after(asgi_server, user, sweep, until_seq=1)
    assert (frame["seq"], frame["data"]["rep_id"]) == (1, 7)
    assert EventOutbox.objects.count() == 0


def test_racing_relays_deliver_each_event_once_and_gap_free():
    users = [make_user() for _ in range(3)]
    with transaction.atomic():
        # recorded, not relayed: the relay callbacks are dropped with this transaction's hooks
        for n in range(40):
            EventOutbox.objects.create(recipients=[u.id for u in users], events=[["rep.presence", presence(n)]])
    barrier = threading.Barrier(4)
    counts = []

    def race():
        barrier.wait()
        counts.append(realtime.relay(limit=7))
        connection.close()

    threads = [threading.Thread(target=race) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(counts) == 40
    for user in users:
        events = stored(user)
        assert [seq for seq, _ in events] == list(range(1, 41))
        assert [data["rep_id"] for _, data in events] == list(range(40))  # in the order they were recorded
    assert EventCursor.objects.get(user=users[0]).last_seq == 40


def test_a_dead_channel_layer_stalls_no_caller_and_loses_nothing():
    user = make_user()
    code = (
        "import django, time; django.setup()\n"
        "from django.db import transaction\n"
        "from core import realtime\n"
        "for n in range(5):\n"
        "    with transaction.atomic():\n"
        f"        realtime.emit('rep.presence', {{'rep_id': n, 'online': True, 'available': True}}, [{user.id}])\n"
        "print(realtime._layer_down_until[0] > 0)\n"
    )
    with _closed_port() as port:
        env = {**os.environ, **_db_env(), "REDIS_URL": f"redis://127.0.0.1:{port}"}
        result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    # the first failed publish opened the breaker: the later commits did not wait on the layer
    assert result.stdout.decode().split()[-1] == "True"
    assert [seq for seq, _ in stored(user)] == [1, 2, 3, 4, 5]  # stored for resume: nothing lost
    from inbox.socket_state import replay_after

    assert [f["data"]["rep_id"] for f in replay_after(user_id=user.id, after=0, until=None)] == [0, 1, 2, 3, 4]


def test_events_for_a_user_deleted_meanwhile_do_not_block_the_others():
    gone, stays = make_user(), make_user()
    with transaction.atomic():
        EventOutbox.objects.create(recipients=[gone.id, stays.id], events=[["rep.presence", presence(1)]])
    gone.delete()
    assert realtime.relay() == 1
    assert [seq for seq, _ in stored(stays)] == [1]


def _db_env() -> dict:
    from conftest import _test_env

    env = _test_env()
    return {k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "SWITCHBOARD_TESTING", "DJANGO_SETTINGS_MODULE")}


class _closed_port:
    def __enter__(self) -> int:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def __exit__(self, *exc) -> None:
        return None
