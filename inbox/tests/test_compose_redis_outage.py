"""Redis stops while a rep composes (production mode: daphne, a Celery worker and beat on a Redis
the test stops and starts): the compose answers 2xx once its row is committed, the browser's retry
with the same Idempotency-Key is the same message, other requests keep being answered, and once
Redis is back beat's periodic dispatch sends the message, exactly once (#16).

Two ways of stopping: killed (connections refused) and frozen with SIGSTOP (connections accepted,
never answered: what a hung Redis, a failover or a partition looks like to a client)."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess

import httpx
import pytest
from asgiref.sync import async_to_sync, sync_to_async
from celery import Celery
from django.conf import settings

from conftest import BIN, ROOT, _free_port, _test_env
from inbox.models import DeliveryAttempt, Message
from inbox.tests.factories import make_channel, make_conversation, make_rep, make_rep_channel
from salesreps.models import ActivityRecord
from webhooks.tests.test_redis_outage import PrivateRedis, _start

CLIENT_TIMEOUT = 30  # fails a hung request; the test asserts no duration


async def _message(message_id: int) -> Message:
    return await sync_to_async(Message.objects.get)(pk=message_id)


async def _until_sent(message_id: int, *, within: float) -> Message:
    """Poll the row until it is sent (beat dispatches every 5 s; a worker may take a while to reconnect)."""
    for _ in range(int(within / 0.25)):
        message = await _message(message_id)
        if message.status == Message.Status.SENT:
            return message
        await asyncio.sleep(0.25)
    return await _message(message_id)


def _no_dispatch_running(broker_url: str) -> bool:
    """The worker runs no dispatch_due (asked over the broker, as `celery inspect` does): a run still
    draining when Redis stops would send the new message without needing the broker at all."""
    # The project's app talks to the test run's shared Redis. Not set as current: a current app on the
    # private Redis sent every later test's .delay() to a server this test had stopped.
    app = Celery(broker=broker_url, set_as_current=False)
    try:
        inspect = app.control.inspect(timeout=1)
        active, reserved = inspect.active() or {}, inspect.reserved() or {}
    finally:
        app.close()
    return bool(active) and not any(task["name"] == "inbox.tasks.dispatch_due"
                                    for reply in (active, reserved) for tasks in reply.values() for task in tasks)


async def _until_no_dispatch_running(broker_url: str) -> None:
    for _ in range(30):
        if await sync_to_async(_no_dispatch_running)(broker_url):
            return
        await asyncio.sleep(0.2)
    raise AssertionError("the worker kept running dispatch_due")


def _outage(redis: PrivateRedis, how: str):
    """(stop, resume) for the way Redis goes away."""
    if how == "killed":
        return redis.stop, redis.start
    return (lambda: os.kill(redis.proc.pid, signal.SIGSTOP)), (lambda: os.kill(redis.proc.pid, signal.SIGCONT))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", ["killed", "frozen"])
def test_compose_while_redis_is_down_answers_2xx_once_and_is_sent_once_redis_returns(how):
    rep = make_rep()
    channel = make_channel("service")
    make_rep_channel(rep, channel)  # sandbox: the whole rules path, no network
    conversation = make_conversation(rep, channel)
    redis = PrivateRedis().start()
    env = {**_test_env(), "REDIS_URL": redis.url}
    port = _free_port()
    daphne = _start([str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"], env,
                    "compose-daphne", port=port)
    worker = _start([str(BIN / "celery"), "-A", "config", "worker", "-l", "info", "-c", "2", "-n", "compose-outage@%h",
                     "--without-gossip", "--without-mingle"], env, "compose-worker", ready="ready.")
    beat = _start([str(BIN / "celery"), "-A", "config", "beat", "-l", "info",
                   "-s", str(redis.dir / "celerybeat-schedule")], env, "compose-beat", ready="beat: Starting")
    messages_url = f"/api/conversations/{conversation.id}/messages/"
    stop, resume = _outage(redis, how)

    async def scenario() -> dict:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=CLIENT_TIMEOUT) as client:
            login = await client.post("/api/auth/token/", json={"username": rep.user.username,
                                                                 "password": f"pass-{rep.user.username}"})
            assert login.status_code == 200, login.text
            client.headers["Authorization"] = f"Token {login.json()['token']}"

            # With Redis up the path works end to end (and the worker is connected before the outage).
            before = await client.post(messages_url, json={"text": "before the outage"},
                                       headers={"Idempotency-Key": "compose-before"})
            assert before.status_code == 201, before.text
            assert (await _until_sent(before.json()["id"], within=60)).status == Message.Status.SENT
            await _until_no_dispatch_running(f"{redis.url}/{settings.CELERY_BROKER_URL.rsplit('/', 1)[1]}")

            stop()
            # The compose and, at the same time, other requests of the inbox: the server keeps answering.
            compose, *lists = await asyncio.gather(
                client.post(messages_url, json={"text": "sent while Redis is down"},
                            headers={"Idempotency-Key": "compose-outage-1"}),
                *(client.get("/api/conversations/") for _ in range(3)),
            )
            retry = await client.post(messages_url, json={"text": "sent while Redis is down"},
                                      headers={"Idempotency-Key": "compose-outage-1"})  # the browser's retry
            later = await client.get("/api/conversations/")
            during = await _message(compose.json()["id"]) if compose.status_code == 201 else None

            resume()
            sent = await _until_sent(compose.json()["id"], within=120) if compose.status_code == 201 else None
            return {"compose": compose, "retry": retry, "lists": [*lists, later], "during": during, "sent": sent}

    try:
        got = async_to_sync(scenario)()
    finally:
        for proc, log in (daphne, worker, beat):
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # its own session (_start): the process and its children
                proc.wait(10)
            log.close()
        redis.stop()  # SIGKILL ends a frozen Redis too
    compose, retry = got["compose"], got["retry"]
    assert compose.status_code == 201, compose.text  # the row is committed: never a 500
    assert compose.json()["status"] == "queued"
    assert retry.status_code == 200 and retry.json()["id"] == compose.json()["id"]
    assert [r.status_code for r in got["lists"]] == [200] * 4
    assert [c["id"] for c in got["lists"][-1].json()["results"]] == [conversation.id]
    assert got["during"].status == Message.Status.QUEUED  # nothing could send it while Redis was down
    outage = Message.objects.filter(conversation=conversation, idempotency_key="compose-outage-1")
    assert outage.count() == 1
    assert Message.objects.filter(conversation=conversation, direction="out").count() == 2  # with the one before
    assert got["sent"].status == Message.Status.SENT, f"see {ROOT / 'var' / 'outage-compose-worker.log'}"
    message = outage.get()
    attempts = list(DeliveryAttempt.objects.filter(message=message).values_list("ok", "sandbox"))
    assert attempts == [(True, True)]
    assert ActivityRecord.objects.filter(message_id=message.id).count() == 1
