"""Hostile webhooks against a real daphne: huge forms and bodies never stall the process's sockets,
and the URL Twilio signed is the public one, whatever a client forwards."""
import asyncio
import socket
from urllib.parse import urlencode, urlsplit

import httpx
import pytest

from inbox.models import Message
from inbox.tests.factories import make_channel, make_rep, make_rep_channel
from inbox.tests.socket_client import Socket
from platforms.tests.helpers import twilio_signature
from webhooks.tests.conftest import PUBLIC_BASE_URL
from webhooks.tests.signing import SECRET, load
from webhooks.tests.test_live import wait_for

pytestmark = pytest.mark.django_db(transaction=True)
HEARTBEAT = 1.0  # WS_HEARTBEAT_SECONDS of the hostile server
MILLION_FIELDS = b"a=&" * (1024 * 1024)  # 3 MiB: within the size limit, a million fields
FORM = "application/x-www-form-urlencoded"


def _form_channels():
    rep = make_rep("hostile-rep")
    for kind, key in (("sms", "+14155550100"), ("email", "sales@inbox.example.com")):
        make_rep_channel(rep, make_channel(kind, routing_key=key, secrets={"auth_token": SECRET, "signing_key": SECRET}))
    return rep


def test_million_field_forms_are_refused_while_a_socket_keeps_its_heartbeats(hostile_server):
    rep = _form_channels()
    posts = [("sms", FORM), ("email", FORM), ("sms", "text/plain"), ("email", "text/plain")]

    async def scenario():
        ws = await Socket.open(hostile_server, rep.user)
        await ws.frame()
        loop = asyncio.get_running_loop()
        beats = []

        async def listen():
            while True:
                if (await ws.frame(60))["event"] == "heartbeat":
                    beats.append(loop.time())

        listener = asyncio.ensure_future(listen())
        statuses = []
        async with httpx.AsyncClient(base_url=hostile_server, timeout=120) as client:
            # Hostile posts, a few at a time, for as long as it takes the socket to get six heartbeats.
            for _ in range(500):
                answers = await asyncio.gather(*(client.post(f"/webhooks/{platform}/", content=MILLION_FIELDS, headers={
                    "content-type": content_type, "x-twilio-signature": "forged"}) for platform, content_type in posts))
                statuses += [answer.status_code for answer in answers]
                if len(beats) >= 6:
                    break
        listener.cancel()
        await ws.close()
        return statuses, beats

    statuses, beats = asyncio.run(scenario())
    gaps = [later - earlier for earlier, later in zip(beats, beats[1:], strict=False)]
    assert len(beats) >= 6 and max(gaps) < 4 * HEARTBEAT, gaps
    # Refused by counting the fields, before any parser or signature check ran (413), or, where
    # the content type is not a form, by the adapter's own count (401).
    assert statuses.count(413) == statuses.count(401) == len(statuses) // 2, statuses


def _raw_post(base_url: str, head: str, chunks=()) -> bytes:
    """Send a request head (and some chunks, never the end of the body); the answer's first bytes."""
    host, port = urlsplit(base_url).hostname, urlsplit(base_url).port
    with socket.create_connection((host, port), timeout=30) as conn:
        conn.sendall(head.encode())
        for chunk in chunks:
            conn.sendall(chunk)
        return conn.recv(4096)


def test_a_declared_body_over_the_limit_is_refused_before_it_is_sent(hostile_server):
    answer = _raw_post(hostile_server, "POST /webhooks/whatsapp/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                       "Content-Type: application/json\r\nContent-Length: 104857600\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 413"), answer


def test_a_streamed_body_is_refused_once_it_passes_the_limit(hostile_server):
    chunk = b"x" * 65536
    framed = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    answer = _raw_post(hostile_server, "POST /webhooks/whatsapp/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                       "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
                       [framed] * (3 * 16 + 2))  # 3 MiB + 128 KiB, and no last chunk
    assert answer.startswith(b"HTTP/1.1 413"), answer


def _twilio_post(base_url: str, signed_url: str, **headers) -> httpx.Response:
    fields = load("sms", "inbound__basic")
    return httpx.post(f"{base_url}/webhooks/sms/", content=urlencode(fields).encode(), timeout=30, headers={
        "content-type": FORM, "x-twilio-signature": twilio_signature(SECRET, signed_url, list(fields.items())), **headers})


def test_twilio_behind_a_tls_proxy_verifies_against_the_public_base_url(hostile_server):
    rep = make_rep("sms-rep")
    make_rep_channel(rep, make_channel("sms", routing_key="+14155550100", secrets={"auth_token": SECRET}))
    # What a TLS-terminating proxy sends on: plain http, its own idea of the Host.
    response = _twilio_post(hostile_server, f"{PUBLIC_BASE_URL}/webhooks/sms/", **{"x-forwarded-proto": "https"})
    assert response.status_code == 200, response.text
    assert wait_for(lambda: Message.objects.filter(direction="in").exists())


def test_twilio_signature_for_a_forged_forwarded_host_is_refused(hostile_server):
    make_channel("sms", routing_key="+14155550100", secrets={"auth_token": SECRET})
    # A request Twilio really signed, for another app's URL, replayed here with that app's Host.
    response = _twilio_post(hostile_server, "https://other-app.example.net/webhooks/sms/",
                            **{"x-forwarded-proto": "https", "x-forwarded-host": "other-app.example.net"})
    assert response.status_code == 401, response.text
