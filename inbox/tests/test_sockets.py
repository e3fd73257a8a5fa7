"""The real-time contract over a real daphne and the Redis layer (DESIGN.md "Real-time contract")."""
import asyncio
import time
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from core.models import UserEvent, WsTicket
from core.ws_auth import ticket_issue
from inbox.models import Message
from inbox.services.conversations import conversation_assign, conversation_mark_read
from inbox.tests.factories import make_channel, make_conversation, make_rep, make_rep_channel, make_team, make_user
from inbox.tests.socket_client import Socket
from platforms.base import InboundMessage

pytestmark = [pytest.mark.django_db(transaction=True)]


def inbound(channel, contact_external_id: str, text: str):
    from inbox.services.messages import message_receive

    event = InboundMessage(channel_key=channel.routing_key, external_id=f"ext-{time.monotonic_ns()}",
                           contact_id=contact_external_id, timestamp=timezone.now(), text=text)
    return message_receive(channel=channel, event=event)


@pytest.fixture
def world():
    team = make_team()
    rep_a, rep_b = make_rep("alice", team=team), make_rep("bob", team=make_team())
    manager = make_rep("maya", team=team, role="manager")
    channel = make_channel()
    for rep in (rep_a, rep_b):
        make_rep_channel(rep, channel)
    conv_a = make_conversation(rep_a, channel, external_id="contact-a")
    conv_b = make_conversation(rep_b, channel, external_id="contact-b")
    return {"a": rep_a, "b": rep_b, "manager": manager, "channel": channel, "conv_a": conv_a, "conv_b": conv_b}


def run(coro):
    return asyncio.run(coro)


def test_rep_never_receives_another_reps_events_live_or_by_resume(asgi_server, world):
    async def scenario():
        a = await Socket.open(asgi_server, world["a"].user)
        b = await Socket.open(asgi_server, world["b"].user)
        assert (await a.frame())["event"] == "ready" and (await b.frame())["event"] == "ready"
        await sync_to_async(inbound)(world["channel"], "contact-b", "for bob only")
        await sync_to_async(inbound)(world["channel"], "contact-a", "for alice")
        got_b = await b.frames_until(lambda f: f["event"] == "message.created")
        got_a = await a.frames_until(lambda f: f["event"] == "message.created")
        assert got_a[-1]["data"]["body"] == "for alice" and got_b[-1]["data"]["body"] == "for bob only"
        await a.send({"action": "resume", "after": 0})
        replay = await a.quiet(1.0)
        await a.close()
        await b.close()
        return replay

    replay = run(scenario())
    bodies = [f["data"].get("body") for f in replay if f["event"].startswith("message")]
    assert "for bob only" not in bodies and "for alice" in bodies
    assert all(f["data"].get("conversation_id", world["conv_a"].id) == world["conv_a"].id for f in replay)


def test_socket_that_missed_fifty_events_gets_all_in_order_after_resume(asgi_server, world):
    async def scenario():
        s = await Socket.open(asgi_server, world["a"].user)
        ready = await s.frame()
        await s.close()
        for i in range(50):
            await sync_to_async(inbound)(world["channel"], "contact-a", f"missed {i}")
        s = await Socket.open(asgi_server, world["a"].user)
        await s.frame()
        await s.send({"action": "resume", "after": ready["data"]["seq"]})
        frames = await s.quiet(1.5)
        await s.close()
        return ready["data"]["seq"], frames

    start, frames = run(scenario())
    seqs = [f["seq"] for f in frames]
    assert seqs == list(range(start + 1, start + 1 + len(seqs)))  # in order, no gaps, no duplicates
    bodies = [f["data"]["body"] for f in frames if f["event"] == "message.created"]
    assert bodies == [f"missed {i}" for i in range(50)]


def test_live_events_after_resume_continue_without_duplicates(asgi_server, world):
    async def scenario():
        s = await Socket.open(asgi_server, world["a"].user)
        seen = (await s.frame())["data"]["seq"]
        await s.close()
        await sync_to_async(inbound)(world["channel"], "contact-a", "one")
        s = await Socket.open(asgi_server, world["a"].user)
        await s.frame()
        # A live event races the replay: it must come once, after the replayed ones.
        await asyncio.gather(s.send({"action": "resume", "after": seen}),
                             sync_to_async(inbound)(world["channel"], "contact-a", "two"))
        frames = await s.quiet(1.5)
        await s.close()
        return frames

    frames = run(scenario())
    seqs = [f["seq"] for f in frames if f["seq"] is not None]
    assert seqs == sorted(set(seqs)) and seqs == list(range(1, len(seqs) + 1))
    assert [f["data"]["body"] for f in frames if f["event"] == "message.created"] == ["one", "two"]


def test_resume_older_than_retention_asks_for_a_reload(asgi_server, world):
    inbound(world["channel"], "contact-a", "old")
    UserEvent.objects.filter(user=world["a"].user).delete()  # pruned past retention

    async def scenario():
        s = await Socket.open(asgi_server, world["a"].user)
        await s.frame()
        await s.send({"action": "resume", "after": 0})
        frame = await s.frames_until(lambda f: f["event"] == "reload")
        await s.close()
        return frame[-1]

    assert run(scenario())["event"] == "reload"


def test_foreign_origin_reused_and_expired_tickets_are_refused(asgi_server, world):
    user = world["a"].user

    async def scenario():
        foreign = await Socket.open(asgi_server, user, origin="https://evil.example")
        same = await Socket.open(asgi_server, user, origin="http://127.0.0.1:8000")
        assert (await same.frame())["event"] == "ready"
        ticket = (await sync_to_async(ticket_issue)(user=user)).key
        first = await Socket.open(asgi_server, ticket=ticket)
        assert (await first.frame())["event"] == "ready"
        reused = await Socket.open(asgi_server, ticket=ticket)
        expired_ticket = await sync_to_async(ticket_issue)(user=user)
        await sync_to_async(WsTicket.objects.filter(pk=expired_ticket.pk).update)(expires_at=timezone.now() - timedelta(seconds=1))
        expired = await Socket.open(asgi_server, ticket=expired_ticket.key)
        none = await Socket.open(asgi_server)
        codes = [await foreign.closed_code(), await reused.closed_code(), await expired.closed_code(), await none.closed_code()]
        await same.close()
        await first.close()
        return codes

    assert run(scenario()) == [4403, 4401, 4401, 4401]


def test_bad_actions_get_error_frames_and_the_socket_stays_open(asgi_server, world):
    async def scenario():
        s = await Socket.open(asgi_server, world["a"].user)
        await s.frame()
        replies = []
        for bad in ["not json", {"action": "dance"}, {"nope": 1}, {"action": "resume"}, {"action": "resume", "after": "x"},
                    {"action": "mark_read", "conversation_id": world["conv_b"].id}]:
            await s.send(bad)
            replies.append((await s.frames_until(lambda f: f["event"] in ("error", "ok")))[-1])
        await s.send({"action": "mark_read", "conversation_id": world["conv_a"].id})
        ok = await s.frames_until(lambda f: f["event"] == "ok")
        await s.close()
        return replies, ok[-1]

    replies, ok = run(scenario())
    details = [r["data"]["detail"] for r in replies]
    assert [r["event"] for r in replies] == ["error"] * 6
    assert "not JSON" in details[0] and "unknown action 'dance'" in details[1] and "'action'" in details[2]
    assert "missing field 'after'" in details[3] and "'after' must be int" in details[4]
    assert "not found" in details[5]  # B's conversation is invisible, not forbidden
    assert ok["data"]["action"] == "mark_read"


def test_socket_send_action_creates_one_message_per_client_id(asgi_server, world):
    async def scenario():
        s = await Socket.open(asgi_server, world["a"].user)
        await s.frame()
        for _ in range(2):
            await s.send({"action": "send", "conversation_id": world["conv_a"].id, "text": "hi", "client_id": "c-1"})
        oks = [(await s.frames_until(lambda f: f["event"] == "ok"))[-1] for _ in range(2)]
        await s.close()
        return oks

    oks = run(scenario())
    assert [o["data"]["created"] for o in oks] == [True, False]
    assert Message.objects.filter(conversation=world["conv_a"], direction="out").count() == 1


def test_oversized_frames_and_floods_close_the_socket_with_clear_codes(asgi_server, world):
    async def scenario():
        big = await Socket.open(asgi_server, world["a"].user)
        await big.frame()
        await big.send("x" * (65 * 1024))
        flood = await Socket.open(asgi_server, world["a"].user)
        await flood.frame()
        for _ in range(25):
            await flood.send({"action": "typing", "conversation_id": world["conv_a"].id})
        frames = []
        try:
            while True:
                frames.append(await flood.frame(5))
        except Exception:
            pass
        return await big.closed_code(), flood.ws.close_code, frames

    big_code, flood_code, frames = run(scenario())
    assert big_code == 4413
    assert flood_code == 4429
    assert any(f["event"] == "error" and f["data"]["code"] == "rate_limited" for f in frames)


def test_reassigned_conversation_stops_reaching_the_previous_rep(asgi_server, world):
    async def scenario():
        a = await Socket.open(asgi_server, world["a"].user)
        await a.frame()
        other = await sync_to_async(make_rep)("carol", team=world["a"].team)
        await sync_to_async(conversation_assign)(user=world["manager"].user, conversation_id=world["conv_a"].id, rep_id=other.id)
        assigned = await a.frames_until(lambda f: f["event"] == "conversation.assigned")
        await sync_to_async(inbound)(world["channel"], "contact-a", "after reassignment")
        later = await a.quiet(1.5)
        await a.close()
        return assigned[-1], later

    assigned, later = run(scenario())
    assert assigned["data"]["previous_rep_id"] == world["a"].id
    assert not [f for f in later if f["event"].startswith("message")]


def test_deactivated_user_loses_open_sockets_within_seconds(asgi_server, world):
    async def scenario():
        s = await Socket.open(asgi_server, world["a"].user)
        await s.frame()
        user = world["a"].user
        user.is_active = False
        await sync_to_async(user.save)()
        started = time.monotonic()
        code = await s.closed_code(timeout=15)
        return code, time.monotonic() - started

    code, _elapsed = run(scenario())
    assert code == 4401


def test_password_change_closes_ticket_sockets(asgi_server, world):
    async def scenario():
        s = await Socket.open(asgi_server, world["a"].user)
        await s.frame()
        user = world["a"].user
        user.set_password("a-new-password-123")
        await sync_to_async(user.save)()
        return await s.closed_code(timeout=15)

    assert run(scenario()) == 4401


def test_presence_reaches_the_teams_manager_and_mark_read_emits_update(asgi_server, world):
    async def scenario():
        m = await Socket.open(asgi_server, world["manager"].user)
        await m.frame()
        a = await Socket.open(asgi_server, world["a"].user)
        await a.frame()
        online = await m.frames_until(lambda f: f["event"] == "rep.presence" and f["data"]["rep_id"] == world["a"].id)
        await sync_to_async(conversation_mark_read)(user=world["a"].user, conversation_id=world["conv_a"].id)
        updated = await a.frames_until(lambda f: f["event"] == "conversation.updated")
        await a.close()
        offline = await m.frames_until(lambda f: f["event"] == "rep.presence" and not f["data"]["online"])
        await m.close()
        return online[-1], updated[-1], offline[-1]

    online, updated, offline = run(scenario())
    assert online["data"]["online"] is True and offline["data"]["rep_id"] == world["a"].id
    assert updated["data"]["unread_count"] == 0


def test_typing_names_the_typist_to_those_who_may_see_the_conversation_only(asgi_server, world):
    async def scenario():
        sockets = {}
        for who in ("a", "b", "manager"):
            sockets[who] = await Socket.open(asgi_server, world[who].user)
            await sockets[who].frame()
        await sockets["manager"].send({"action": "typing", "conversation_id": world["conv_a"].id})
        heard = await sockets["a"].frames_until(lambda f: f["event"] == "typing")
        await sockets["a"].send({"action": "typing", "conversation_id": world["conv_a"].id})
        heard_by_manager = await sockets["manager"].frames_until(lambda f: f["event"] == "typing")
        elsewhere = await sockets["b"].quiet(1.0)  # another team's rep
        for s in sockets.values():
            await s.close()
        return heard[-1], heard_by_manager[-1], elsewhere

    heard, heard_by_manager, elsewhere = run(scenario())
    assert heard["seq"] is None  # ephemeral: not stored, not replayed
    assert heard["data"] == {"conversation_id": world["conv_a"].id, "rep_id": world["manager"].id, "name": "Maya"}
    assert heard_by_manager["data"] == {"conversation_id": world["conv_a"].id, "rep_id": world["a"].id, "name": "Alice"}
    assert not [f for f in elsewhere if f["event"] == "typing"]


def test_session_cookie_authenticates_browsers(asgi_server, world):
    from django.test import Client

    user = make_user("browser")
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"].value

    async def scenario():
        import websockets

        url = asgi_server.replace("http://", "ws://") + "/ws/inbox/"
        async with websockets.connect(url, additional_headers={"Cookie": f"sessionid={cookie}", "Origin": asgi_server}) as ws:
            import json

            return json.loads(await asyncio.wait_for(ws.recv(), 10))

    assert run(scenario())["data"]["user_id"] == user.id
