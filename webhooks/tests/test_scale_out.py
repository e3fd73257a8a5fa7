"""Scale out on one machine: two daphne processes and two Celery workers. A rep's socket on daphne A
gets, in order and once, the events of webhooks posted to daphne B and processed by either worker."""
from __future__ import annotations

import json
import subprocess

import httpx
import pytest
from asgiref.sync import async_to_sync

from conftest import BIN, ROOT, Worker, _free_port, _test_env, _wait_port
from inbox.models import Message
from inbox.tests.factories import make_channel, make_rep, make_rep_channel
from inbox.tests.socket_client import Socket
from platforms.tests.helpers import FIXTURES
from webhooks.tests.signing import SECRET, signed

PHONE_NUMBER_ID = "106540352242922"


def _daphne(name: str):
    port = _free_port()
    log = open(ROOT / "var" / f"daphne-{name}.log", "w")
    env = {**_test_env(), "WEBHOOK_PROCESSING": "worker"}
    proc = subprocess.Popen([str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
                            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    _wait_port(port, proc, f"daphne {name}")
    return proc, log, f"http://127.0.0.1:{port}"


def _inbound(n: int) -> bytes:
    payload = json.loads((FIXTURES / "whatsapp" / "text__basic.json").read_bytes())
    value = payload["entry"][0]["changes"][0]["value"]
    value["metadata"]["phone_number_id"] = PHONE_NUMBER_ID
    message = value["messages"][0]
    message["id"], message["text"]["body"] = f"wamid.scale.{n}", f"message {n}"
    return json.dumps(payload).encode()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_socket_on_one_daphne_gets_events_made_through_the_other():
    rep = make_rep()
    channel = make_channel("whatsapp", name="wa", routing_key=PHONE_NUMBER_ID, secrets={"app_secret": SECRET})
    make_rep_channel(rep, channel)
    servers = [_daphne("a"), _daphne("b")]
    workers = [Worker(name="scale1").start(), Worker(name="scale2").start()]
    (_, _, base_a), (_, _, base_b) = servers
    try:
        async def scenario():
            socket = await Socket.open(base_a, rep.user)
            assert (await socket.frame())["event"] == "ready"
            async with httpx.AsyncClient(base_url=base_b, timeout=10) as client:
                for n in range(10):
                    body, content_type, headers = signed("whatsapp", _inbound(n))
                    headers = {k[5:].replace("_", "-").lower(): v for k, v in headers.items()}
                    response = await client.post("/webhooks/whatsapp/", content=body,
                                                 headers={**headers, "content-type": content_type})
                    assert response.status_code == 200, response.text
            seen, bodies = [], set()
            while len(bodies) < 10:
                frame = await socket.frame(timeout=60)
                seen.append(frame)
                if frame.get("event") == "message.created":
                    bodies.add(frame["data"]["body"])
            await socket.ws.close()
            return seen, bodies

        frames, bodies = async_to_sync(scenario)()
    finally:
        for worker in workers:
            worker.stop()
        for proc, log, _ in servers:
            proc.terminate()
            proc.wait(10)
            log.close()
    seqs = [f["seq"] for f in frames if f.get("seq")]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))  # in order, each once
    assert bodies == {f"message {n}" for n in range(10)}
    assert Message.objects.filter(direction="in").count() == 10
