"""Against the running daphne: concurrency, the socket frame, and hostile bodies."""
import asyncio
import json
import time

import httpx
import pytest
from daphne.http_protocol import WebRequest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.web.test.requesthelper import DummyChannel

from config.daphne_tuning import skip_form_parsing
from inbox.models import Message
from inbox.tests.factories import make_channel, make_rep, make_rep_channel
from inbox.tests.socket_client import Socket
from platforms.tests.helpers import mutations
from webhooks.models import WebhookEvent
from webhooks.tests.signing import SECRET, load, signed
from webhooks.tests.test_webhooks import channels_for, parsed

pytestmark = pytest.mark.django_db(transaction=True)


def http_headers(platform, payload):
    body, content_type, extra = signed(platform, payload)
    headers = {"Content-Type": content_type}
    for key, value in extra.items():
        headers[key[5:].replace("_", "-")] = value
    return body, headers


def whatsapp_channel():
    payload = json.loads(load("whatsapp", "text__basic"))
    phone_number_id = payload["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"]
    rep = make_rep("wa-rep")
    channel = make_channel("whatsapp", routing_key=phone_number_id, secrets={"app_secret": SECRET})
    make_rep_channel(rep, channel)
    return rep, payload


def wait_for(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_same_signed_payload_posted_100_times_concurrently_yields_one_message(asgi_server):
    _rep, payload = whatsapp_channel()
    body, headers = http_headers("whatsapp", payload)

    async def storm():
        async with httpx.AsyncClient(base_url=asgi_server, timeout=30) as client:
            return await asyncio.gather(*(client.post("/webhooks/whatsapp/", content=body, headers=headers) for _ in range(100)))

    responses = asyncio.run(storm())
    assert [r.status_code for r in responses] == [200] * 100
    assert sum(r.json()["status"] == "received" for r in responses) == 1
    assert wait_for(lambda: Message.objects.filter(direction="in").count() == 1)
    time.sleep(0.5)
    assert Message.objects.filter(direction="in").count() == 1
    assert WebhookEvent.objects.count() == 1


def test_signed_webhook_reaches_the_reps_socket_as_message_created(asgi_server):
    rep, payload = whatsapp_channel()
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] = "live marker 7781"
    body, headers = http_headers("whatsapp", payload)

    async def scenario():
        socket = await Socket.open(asgi_server, rep.user)
        await socket.frame()
        async with httpx.AsyncClient(base_url=asgi_server) as client:
            response = await client.post("/webhooks/whatsapp/", content=body, headers=headers)
        frames = await socket.frames_until(lambda f: f["event"] == "message.created")
        await socket.close()
        return response.status_code, frames[-1]

    status, frame = asyncio.run(scenario())
    assert status == 200
    assert frame["data"]["body"] == "live marker 7781" and frame["seq"] >= 1


WHATSAPP_DOC = json.loads(load("whatsapp", "batch__multiple_entries"))


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(st.binary(max_size=300), mutations(WHATSAPP_DOC)), st.booleans(),
       st.sampled_from(["whatsapp", "messenger", "instagram", "service", "sms", "email"]))
def test_random_and_mutated_bodies_never_get_a_500(asgi_server_client, body, sign, platform):
    if sign:
        body, headers = http_headers(platform, body if platform not in ("sms", "email") else {"Body": body.decode("latin1")})
    else:
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=00"}
    response = asgi_server_client.post(f"/webhooks/{platform}/", content=body, headers=headers)
    assert response.status_code < 500, response.text


@pytest.fixture
def asgi_server_client(asgi_server):
    make_channel("whatsapp", routing_key="106540352242922", secrets={"app_secret": SECRET})
    for platform in ("messenger", "instagram", "sms", "email"):
        make_channel(platform, secrets={"app_secret": SECRET, "auth_token": SECRET, "signing_key": SECRET})
    make_channel("service", name="svc", secrets={"secret": SECRET})
    with httpx.Client(base_url=asgi_server, timeout=30) as client:
        yield client


@pytest.mark.django_db(transaction=True)
def test_a_signed_form_webhook_arrives_intact_through_daphne(asgi_server):
    """Twisted's own form parsing is off in daphne (config/daphne_tuning.py): the raw form body
    still reaches the endpoint whole, its Twilio signature holds and the message is stored."""

    skip_form_parsing()  # what config.asgi does in the server process
    channel = DummyChannel()
    channel.factory = type("Factory", (), {"server": type("Server", (), {"protocol_connected": lambda self, p: None})()})()
    assert WebRequest(channel)._parsePOSTFormSubmission is False
    payload = load("sms", "inbound__basic")
    channels_for("sms", parsed("sms", payload))
    body, content_type, headers = signed("sms", payload)
    headers = {k[5:].replace("_", "-").lower(): v for k, v in headers.items()}
    response = httpx.post(f"{asgi_server}/webhooks/sms/", content=body, timeout=30,
                          headers={**headers, "content-type": content_type, "host": "testserver"})
    assert response.status_code == 200, response.text
    wait_for(lambda: Message.objects.filter(direction="in").exists())
    assert Message.objects.get(direction="in").body == payload["Body"]
