"""Redis stops while webhooks keep coming (production mode: daphne stores, a Celery worker processes).

Every webhook is answered 200 quickly and stored; once Redis is back, every event is processed and
reaches the rep's socket, in order, once (the socket reconnects with ?after=N)."""
from __future__ import annotations

import asyncio
import json
import subprocess
import time

import httpx
import pytest
from asgiref.sync import async_to_sync, sync_to_async

from conftest import BIN, ROOT, _free_port, _test_env, _wait_port
from core import embedded
from core.models import EventOutbox
from inbox.models import Message
from inbox.tests.factories import make_channel, make_rep, make_rep_channel
from inbox.tests.socket_client import Socket
from platforms.tests.helpers import FIXTURES
from webhooks import pipeline
from webhooks.models import WebhookEvent
from webhooks.tests.signing import SECRET, signed

PHONE_NUMBER_ID = "106540352242922"


class PrivateRedis:
    """A Redis of this test only, stopped and started again on the same port."""

    def __init__(self):
        self.port, self.proc = _free_port(), None
        self.dir = ROOT / "var" / f"redis-outage-{self.port}"
        self.dir.mkdir(parents=True, exist_ok=True)

    def start(self) -> PrivateRedis:
        self.proc = subprocess.Popen([embedded._redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--dir", str(self.dir), "--save", "", "--appendonly", "no"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port(self.port, self.proc, "redis")
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"


def _inbound(n: int) -> tuple[bytes, dict]:
    payload = json.loads((FIXTURES / "whatsapp" / "text__basic.json").read_bytes())
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    message["id"], message["text"]["body"] = f"wamid.outage.{n}", f"message {n}"
    body, content_type, headers = signed("whatsapp", json.dumps(payload).encode())
    return body, {**{k[5:].replace("_", "-").lower(): v for k, v in headers.items()}, "content-type": content_type}


async def _inbound_count() -> int:
    from asgiref.sync import sync_to_async

    return await sync_to_async(Message.objects.filter(direction="in").count)()


def _start(args: list[str], env: dict, name: str, ready: str | None = None, port: int | None = None):
    log_path = ROOT / "var" / f"outage-{name}.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    if port:
        _wait_port(port, proc, name)
    deadline = time.monotonic() + 60
    while ready and ready not in log_path.read_text() and time.monotonic() < deadline:
        assert proc.poll() is None, log_path.read_text()[-2000:]
        time.sleep(0.2)
    return proc, log


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_webhooks_during_a_redis_outage_are_answered_stored_and_delivered_afterwards():
    rep = make_rep()
    channel = make_channel("whatsapp", name="wa", routing_key=PHONE_NUMBER_ID, secrets={"app_secret": SECRET})
    make_rep_channel(rep, channel)
    redis = PrivateRedis().start()
    env = {**_test_env(), "REDIS_URL": redis.url, "WEBHOOK_PROCESSING": "worker"}
    port = _free_port()
    daphne = _start([str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"], env, "daphne",
                    port=port)
    worker = _start([str(BIN / "celery"), "-A", "config", "worker", "-l", "info", "-c", "2", "-n", "outage@%h",
                     "--without-gossip", "--without-mingle"], env, "worker", ready="ready.")
    base = f"http://127.0.0.1:{port}"
    answers: list[tuple[int, float]] = []

    async def post_many(client, numbers, rate: float) -> None:
        for n in numbers:
            body, headers = _inbound(n)
            t0 = time.monotonic()
            response = await client.post("/webhooks/whatsapp/", content=body, headers=headers)
            answers.append((response.status_code, time.monotonic() - t0))
            await asyncio.sleep(1 / rate)

    async def scenario():
        socket = await Socket.open(base, rep.user)
        assert (await socket.frame())["event"] == "ready"
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            await post_many(client, range(0, 20), rate=50)
            seen = await socket.frames_until(lambda f: f.get("data", {}).get("body") == "message 19", timeout=60)
            last_seq = max(f["seq"] for f in seen if f.get("seq"))
            redis.stop()
            await post_many(client, range(20, 120), rate=50)  # 2 s of webhooks with no Redis at all
            await asyncio.sleep(3)
            redis.start()
            # Traffic goes on as platforms keep sending: the first deliveries after the restart may
            # meet the worker and the server still reconnecting; a later one wakes processing,
            # which takes everything stored meanwhile (beat's sweep would too, after 30 s).
            n, started = 120, time.monotonic()
            while time.monotonic() - started < 120:
                await post_many(client, [n], rate=2)
                n += 1
                if await _inbound_count() >= n:
                    break
                if time.monotonic() - started > 30:  # beat's sweep, for a worker slow to reconnect
                    await sync_to_async(pipeline.events_sweep)(older_than_seconds=0)
        await socket.ws.close()
        relayed_by = time.monotonic() + 60
        while await sync_to_async(EventOutbox.objects.exists)() and time.monotonic() < relayed_by:
            await asyncio.sleep(0.2)  # the last relay has stored its events for the resume
        total = n
        socket = await Socket.open(base, rep.user, after=last_seq)
        frames = await socket.frames_until(lambda f: f.get("data", {}).get("body") == f"message {total - 1}", timeout=90)
        await socket.ws.close()
        return seen, frames, total

    try:
        seen, frames, total = async_to_sync(scenario)()
    finally:
        for proc, log in (daphne, worker):
            proc.terminate()
            proc.wait(20)
            log.close()
        redis.stop()
    assert [code for code, _ in answers] == [200] * total
    assert max(seconds for _, seconds in answers) < 5
    assert WebhookEvent.objects.count() == total and not WebhookEvent.objects.exclude(state="processed").exists()
    # Two workers process batches concurrently, so seq order is commit order, not arrival order:
    # what the socket saw live before the outage plus what the resume replayed is every message, once.
    before = [f["data"]["body"] for f in seen if f.get("event") == "message.created"]
    bodies = [f["data"]["body"] for f in frames if f.get("event") == "message.created"]
    assert sorted(before + bodies, key=lambda b: int(b.split()[1])) == [f"message {n}" for n in range(total)]
    seqs = [f["seq"] for f in frames if f.get("seq")]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # gap-free and in order after the resume point
