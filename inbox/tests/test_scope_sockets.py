"""The team boundary on the socket, over a real daphne and the Redis layer: live frames, resume and
every client action, as rep A, rep B, the manager of each team, a manager without a team and an
admin, on the cross-team world of api_world.py — the conversations a socket hears of are exactly
the ones its user may open over REST. Then role and team changes: the user's sockets close with
4409, reconnect with the new groups, and never replay what the old access was shown."""
from __future__ import annotations

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from core.models import EventCursor
from core.ws_auth import CLOSE_ACCESS_CHANGED
from inbox.models import ContactIdentity
from inbox.tests.api_world import ROLES, build_world
from inbox.tests.socket_client import Socket
from platforms.base import InboundMessage
from salesreps.models import SalesRep
from salesreps.services import rep_set_role

pytestmark = [pytest.mark.django_db(transaction=True)]
SETTLE = 1.5  # seconds of silence that end a collection of frames


@pytest.fixture
def world(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return build_world()


def inbound(conversation, text: str):
    """A platform message from the conversation's contact, through the inbox's own entry point."""
    from inbox.services.messages import message_receive

    identity = ContactIdentity.objects.get(contact_id=conversation.contact_id, channel_id=conversation.channel_id)
    event = InboundMessage(channel_key=conversation.channel.routing_key, external_id=f"ext-{time.monotonic_ns()}",
                           contact_id=identity.external_id, timestamp=timezone.now(), text=text)
    return message_receive(channel=conversation.channel, event=event)


def conversation_ids(frames: list[dict]) -> set[int]:
    """Every conversation a list of frames tells of, whatever the event."""
    found = set()
    for frame in frames:
        data, name = frame.get("data") or {}, frame["event"]
        if name in ("message.created", "message.updated", "messages.changed", "typing"):
            found.add(data["conversation_id"])
        elif name in ("conversation.created", "conversation.updated"):
            found.add(data["id"])
        elif name == "conversation.assigned":
            found.add(data["conversation"]["id"])
        elif name == "conversations.changed":
            found |= {c["id"] for c in data["conversations"]}
    return found


def presence_reps(frames: list[dict]) -> set[int]:
    return {f["data"]["rep_id"] for f in frames if f["event"] == "rep.presence"}


def run(coro):
    return asyncio.run(coro)


async def open_ready(base_url: str, user, **kwargs) -> tuple[Socket, dict]:
    socket = await Socket.open(base_url, user, **kwargs)
    ready = await socket.frame()
    assert ready["event"] == "ready", ready
    return socket, ready


def test_each_socket_hears_of_exactly_its_scope_live_by_resume_and_in_its_actions(asgi_server, world):
    users = world.users()
    conversations = world.conversations()

    async def scenario():
        sockets = {role: (await open_ready(asgi_server, users[role]))[0] for role in ROLES}
        for conversation in conversations:
            await sync_to_async(inbound)(conversation, f"hello from contact {conversation.contact_id}")
        live = {role: await s.quiet(SETTLE) for role, s in sockets.items()}
        replayed = {}
        for role, s in sockets.items():
            await s.send({"action": "resume", "after": 0})
            replayed[role] = await s.quiet(SETTLE)
        answers = {role: {} for role in ROLES}
        for role, s in sockets.items():
            for conversation in conversations:
                for action in ({"action": "mark_read"}, {"action": "typing"},
                               {"action": "send", "text": "from the socket matrix", "client_id": f"{role}-{conversation.id}"}):
                    await s.send({**action, "conversation_id": conversation.id})
                    reply = await s.frames_until(lambda f: f["event"] in ("ok", "error"))
                    answers[role][(action["action"], conversation.id)] = reply[-1]
                    await asyncio.sleep(0.06)  # under the 20 actions a second limit
        after_actions = {role: await s.quiet(SETTLE) for role, s in sockets.items()}
        for s in sockets.values():
            await s.close()
        return live, replayed, answers, after_actions

    live, replayed, answers, after_actions = run(scenario())
    failures = []
    for role in ROLES:
        scope = world.scope(role)
        expected = scope["conversations"]
        if conversation_ids(live[role]) != expected:
            failures.append(f"{role}: live frames about {sorted(conversation_ids(live[role]))}, expected {sorted(expected)}")
        if not presence_reps(live[role]) <= scope["reps"]:
            failures.append(f"{role}: presence of reps {sorted(presence_reps(live[role]))} outside {sorted(scope['reps'])}")
        stored = [f for f in replayed[role] if f["seq"] is not None]
        if conversation_ids(stored) != expected:
            failures.append(f"{role}: resume replayed {sorted(conversation_ids(stored))}, expected {sorted(expected)}")
        for (action, conversation_id), reply in answers[role].items():
            allowed = conversation_id in expected
            if action == "send" and role == "admin" and conversation_id in scope["unassigned"]:
                allowed = False  # an admin without a rep cannot send on an unassigned conversation (assign first)
            got = reply["event"] == "ok"
            if got != allowed or (not got and reply["data"]["code"] != "not_found"):
                failures.append(f"{role}: {action} on {conversation_id} answered {reply}")
        heard = conversation_ids(after_actions[role])
        if not heard <= expected:
            failures.append(f"{role}: after the actions, frames about {sorted(heard - expected)} outside its scope")
    assert not failures, "\n".join(failures)


def _admin_client(world) -> Client:
    client = Client()
    client.force_login(world.admin)
    return client


def _rep_form(rep: SalesRep, **changes) -> dict:
    data = {"user": str(rep.user_id), "full_name": rep.full_name, "phone": rep.phone, "country": rep.country, "city": rep.city,
            "is_available": "on" if rep.is_available else "", "team": str(rep.team_id or ""), "role": rep.role,
            "timezone": rep.timezone,
            **{f"{prefix}-{k}": v for prefix in ("weekly_windows", "time_off", "rep_channels", "shifts")
               for k, v in {"TOTAL_FORMS": "0", "INITIAL_FORMS": "0", "MIN_NUM_FORMS": "0", "MAX_NUM_FORMS": "1000"}.items()}}
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


def _admin_save_rep(world, rep: SalesRep, **changes) -> None:
    response = _admin_client(world).post(f"/admin/salesreps/salesrep/{rep.id}/change/", _rep_form(rep, **changes))
    assert response.status_code == 302, response.content[:3000]


def test_a_demoted_manager_is_closed_reconnects_as_a_rep_and_never_replays_the_managers_events(asgi_server, world):
    manager = world.manager_a

    async def scenario():
        before, ready = await open_ready(asgi_server, manager.user)
        await sync_to_async(inbound)(world.conv_unassigned, "for the managers of team A")
        await sync_to_async(inbound)(world.conv_b, "for bob and his managers")
        heard = await before.quiet(SETTLE)
        await sync_to_async(_admin_save_rep)(world, manager, role="rep")  # the admin's rep page demotes her
        code = await before.closed_code()
        after, _ = await open_ready(asgi_server, manager.user, after=ready["data"]["seq"])  # the client's reconnect
        reconnect = await after.quiet(SETTLE)
        await after.send({"action": "resume", "after": 0})
        replay = await after.quiet(SETTLE)
        await sync_to_async(inbound)(world.conv_unassigned, "no longer hers")
        await sync_to_async(inbound)(world.conv_b, "no longer hers either")
        later = await after.quiet(SETTLE)
        await after.close()
        return heard, code, reconnect, replay, later

    heard, code, reconnect, replay, later = run(scenario())
    assert conversation_ids(heard) == {world.conv_unassigned.id, world.conv_b.id}  # she was a manager then
    assert code == CLOSE_ACCESS_CHANGED
    for frames in (reconnect, replay):
        assert [f["event"] for f in frames if f["event"] != "rep.presence"] == ["reload"]
        assert not conversation_ids(frames)
    assert not conversation_ids(later)
    rest = Client()
    rest.force_login(manager.user)
    assert rest.get("/api/conversations/").json()["results"] == []
    assert rest.get(f"/api/conversations/{world.conv_unassigned.id}/").status_code == 404


def test_a_manager_moved_to_another_team_hears_the_new_team_only(asgi_server, world):
    manager = world.manager_b

    async def scenario():
        before, _ = await open_ready(asgi_server, manager.user)
        await sync_to_async(rep_set_role)(rep_id=manager.id, role="manager", team_id=world.team_a.id)
        code = await before.closed_code()
        after, _ = await open_ready(asgi_server, manager.user)
        for conversation in world.conversations():
            await sync_to_async(inbound)(conversation, "after the move")
        rep_a_online, _ = await open_ready(asgi_server, world.rep_a.user)  # presence goes to the new team's group
        rep_c_online, _ = await open_ready(asgi_server, world.rep_c.user)
        frames = await after.quiet(SETTLE)
        for s in (after, rep_a_online, rep_c_online):
            await s.close()
        return code, frames

    code, frames = run(scenario())
    assert code == CLOSE_ACCESS_CHANGED
    assert conversation_ids(frames) == world.scope("manager_a")["conversations"]
    assert world.rep_a.id in presence_reps(frames) and world.rep_c.id not in presence_reps(frames)


def test_taking_admin_rights_back_closes_the_socket(asgi_server, world):
    User = get_user_model()
    other_admin = User.objects.create_superuser("root2", password="pass-root2")

    def take_back() -> None:  # the admin's user page, "superuser status" unticked
        response = _admin_client(world).post(f"/admin/auth/user/{other_admin.id}/change/", {
            "username": "root2", "is_active": "on", "is_staff": "on", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"})
        assert response.status_code == 302, response.content[:2000]

    async def scenario():
        s, _ = await open_ready(asgi_server, other_admin)
        await sync_to_async(take_back)()
        return await s.closed_code()

    assert run(scenario()) == CLOSE_ACCESS_CHANGED
    assert not User.objects.get(pk=other_admin.pk).is_superuser


def test_a_lost_close_message_is_made_up_by_the_socket_check(asgi_server, world):
    """The channel layer may drop the close: the per-process check compares access floors."""

    async def scenario():
        s, _ = await open_ready(asgi_server, world.manager_a.user)
        await sync_to_async(EventCursor.objects.update_or_create)(user=world.manager_a.user, defaults={"access_floor": 1})
        return await s.closed_code(timeout=15)

    assert run(scenario()) == CLOSE_ACCESS_CHANGED
