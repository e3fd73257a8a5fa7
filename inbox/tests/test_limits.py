"""Bounds on what one caller can make the server do: the contacts CSV upload and socket `resume`."""
from __future__ import annotations

import asyncio
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from conftest import daphne
from core.models import EventCursor
from inbox.contact_import import MAX_BYTES
from inbox.models import Contact
from inbox.tests.factories import make_channel, make_conversation, make_rep, make_rep_channel, make_team
from inbox.tests.socket_client import Socket
from platforms.base import InboundMessage


def test_contacts_upload_over_the_limit_is_refused_with_413_before_parsing(world, client_for):
    before = Contact.objects.count()
    rows = "name,phone\n" + "".join(f"Person {i},+4477009{i % 100000:05d}\n" for i in range(MAX_BYTES // 20 + 1000))
    assert len(rows) > MAX_BYTES
    response = client_for(world.manager_a.user).post(
        "/api/contacts/import/", {"file": SimpleUploadedFile("big.csv", rows.encode(), "text/csv")})
    assert response.status_code == 413
    assert response.json()["detail"] == "the file is larger than 2 MB: split it"
    assert Contact.objects.count() == before


# ---- resume ---------------------------------------------------------------------------------------


def inbound(channel, contact_external_id: str, text: str):
    from inbox.services.messages import message_receive

    event = InboundMessage(channel_key=channel.routing_key, external_id=f"ext-{time.monotonic_ns()}",
                           contact_id=contact_external_id, timestamp=timezone.now(), text=text)
    return message_receive(channel=channel, event=event)


@pytest.fixture
def rep_world(transactional_db):
    rep = make_rep("rhea", team=make_team())
    channel = make_channel()
    make_rep_channel(rep, channel)
    make_conversation(rep, channel, external_id="contact-r")
    return rep, channel


@pytest.fixture
def bounded_server(transactional_db, tmp_path):
    """daphne as in the suite, with a small resume bound (the setting is read at start)."""
    with daphne(tmp_path / "daphne.log", {"WS_RESUME_MAX_EVENTS": "3"}) as base:
        yield base


def test_resume_after_beyond_a_bigint_gets_an_error_naming_the_limit(asgi_server, rep_world):
    rep, channel = rep_world
    inbound(channel, "contact-r", "hello")

    async def scenario():
        s = await Socket.open(asgi_server, rep.user)
        await s.frame()
        await s.send({"action": "resume", "after": 2**63})
        error = (await s.frames_until(lambda f: f["event"] == "error"))[-1]
        await s.send({"action": "resume", "after": 0})  # the socket is still open and serves a resume
        replay = await s.frames_until(lambda f: f["event"] == "message.created")
        await s.close()
        return error, replay

    error, replay = asyncio.run(scenario())
    assert error["data"] == {"code": "bad_action", "detail": "resume: 'after' must be between 0 and 9223372036854775807"}
    assert replay[-1]["data"]["body"] == "hello"


def test_resume_further_behind_than_the_bound_gets_reload_and_a_near_one_a_replay(bounded_server, rep_world):
    rep, channel = rep_world
    for i in range(4):
        inbound(channel, "contact-r", f"missed {i}")
    last = EventCursor.objects.get(user=rep.user).last_seq
    assert last > 3

    async def scenario():
        s = await Socket.open(bounded_server, rep.user)
        await s.frame()
        await s.send({"action": "resume", "after": 0})
        far = (await s.frames_until(lambda f: f["event"] in ("reload", "message.created", "conversation.updated")))[-1]
        await s.send({"action": "resume", "after": last - 2})
        near = await s.quiet(1.5)
        await s.close()
        return far, near

    far, near = asyncio.run(scenario())
    assert far["event"] == "reload"
    assert [f["seq"] for f in near] == [last - 1, last]
