"""A campaign's plan tells the watching inboxes: its new and newly assigned conversations in
batched `conversations.changed`, its queued messages in one `messages.changed` per conversation,
each to that conversation's audience only, in a few outbox rows however many recipients."""
import asyncio
import math
from collections import Counter

import pytest
from asgiref.sync import sync_to_async

from campaigns.models import CampaignRecipient
from campaigns.tests.world import make_campaign, make_contact, make_contacts, start, utc, wall
from core.models import EventOutbox
from inbox.models import Conversation, Message
from inbox.services.batches import CONVERSATIONS_PER_EVENT
from inbox.tests.factories import make_channel, make_conversation, make_rep, make_rep_channel, make_team, make_user
from inbox.tests.socket_client import Socket

PLAN_NOW = utc(2030, 5, 31, 12)  # the campaign runs in June 2030: nothing falls due while the test runs


def _audience(conversation: Conversation, managers: dict, admin) -> set[int]:
    rep = conversation.rep
    return {admin.id, rep.user_id, *(m.user_id for m in managers[rep.team_id])}


@pytest.mark.django_db(transaction=True)
def test_a_started_campaign_reaches_each_open_inbox_once_per_conversation_and_only_its_audience(asgi_server):
    team_a, team_b = make_team(), make_team()
    rep_a, rep_b = make_rep(team=team_a), make_rep(team=team_b)
    manager_a, manager_b = make_rep(team=team_a, role="manager"), make_rep(team=team_b, role="manager")
    admin = make_user(superuser=True)
    channel = make_channel()
    for rep in (rep_a, rep_b):
        make_rep_channel(rep, channel, capacity=100)
    for owner in (rep_a, rep_a, rep_b, None):  # no conversation yet: the planner opens theirs
        make_contact(owner=owner)
    waiting = make_conversation(None, channel, contact=make_contact(owner=rep_b))  # unassigned: the planner assigns it
    ongoing = make_conversation(rep_a, channel, contact=make_contact())  # keeps its rep: only its message is news
    campaign = make_campaign(channel, start=wall(2030, 6, 1, 9), end=wall(2030, 6, 3, 17), user=admin)
    users = {"rep_a": rep_a.user, "rep_b": rep_b.user, "manager_a": manager_a.user, "manager_b": manager_b.user,
             "admin": admin}

    async def scenario():
        sockets = {name: await Socket.open(asgi_server, user) for name, user in users.items()}
        for socket in sockets.values():
            assert (await socket.frame())["event"] == "ready"
        await sync_to_async(start)(campaign, PLAN_NOW)
        frames = await asyncio.gather(*(socket.quiet(2.0) for socket in sockets.values()))
        for socket in sockets.values():
            await socket.close()
        return dict(zip(sockets, frames, strict=True))

    frames = asyncio.run(scenario())

    planned = dict(Message.objects.filter(pk__in=CampaignRecipient.objects.filter(campaign=campaign).values("message_id"))
                   .values_list("conversation_id", "id"))
    conversations = {c.id: c for c in Conversation.objects.filter(pk__in=planned).select_related("rep")}
    assert len(conversations) == 6 and all(c.rep_id for c in conversations.values())
    assert conversations[waiting.id].rep_id == rep_b.id and conversations[ongoing.id].rep_id == rep_a.id
    managers = {team_a.id: [manager_a], team_b.id: [manager_b]}
    audience = {cid: _audience(c, managers, admin) for cid, c in conversations.items()}
    for name, user in users.items():
        got = [f for f in frames[name] if f["seq"] is not None]  # stored events (presence is not)
        assert {f["event"] for f in got} <= {"conversations.changed", "messages.changed"}, (name, got)
        mine = {cid for cid, users_ in audience.items() if user.id in users_}
        assert mine, name
        listed = [c for f in got if f["event"] == "conversations.changed" for c in f["data"]["conversations"]]
        # Opened or assigned by the planner, each once; the ongoing conversation was not.
        assert Counter(c["id"] for c in listed) == Counter(mine - {ongoing.id}), name
        for c in listed:
            assert (c["rep_id"], c["channel_id"], c["channel_kind"]) == (conversations[c["id"]].rep_id, channel.id, channel.kind)
            assert c["contact_name"] and c["status"] == "open"
        changed = [f for f in got if f["event"] == "messages.changed"]
        assert Counter(f["data"]["conversation_id"] for f in changed) == Counter(mine), name
        for f in changed:
            assert f["data"]["messages"] == [{"id": planned[f["data"]["conversation_id"]], "status": "queued",
                                              "defer_code": "", "defer_reason": ""}]
        # A conversation is listed before its message is named, so a client has it when that comes.
        listed_at = {c["id"]: f["seq"] for f in got if f["event"] == "conversations.changed" for c in f["data"]["conversations"]}
        assert all(listed_at[f["data"]["conversation_id"]] < f["seq"] for f in changed if f["data"]["conversation_id"] in listed_at)
    assert {c["id"] for f in frames["rep_a"] if f["event"] == "conversations.changed" for c in f["data"]["conversations"]} == {
        cid for cid, c in conversations.items() if c.rep_id == rep_a.id} - {ongoing.id}
    assert not EventOutbox.objects.exists()  # all relayed


@pytest.mark.django_db
def test_a_two_thousand_recipient_plan_writes_a_few_outbox_rows_not_one_per_message():
    channel = make_channel()
    team = make_team()
    reps = [make_rep(team=team) for _ in range(2)]
    make_rep(team=team, role="manager")
    admin = make_user(superuser=True)
    for rep in reps:
        make_rep_channel(rep, channel, capacity=2000)
    make_contacts(2000)
    campaign = make_campaign(channel, start=wall(2030, 6, 1, 9), end=wall(2030, 6, 3, 17), user=admin)
    result = start(campaign, PLAN_NOW)  # in the test's transaction: the rows wait for a relay that never runs
    assert result.scheduled == 2000

    rows = list(EventOutbox.objects.order_by("id"))
    # One row of conversations and one of messages per rep's audience: bounded by the reps, not the messages.
    assert len(rows) == 2 * len(reps)
    per_rep = result.per_rep
    events = Counter()
    for row in rows:
        names = {name for name, _ in row.events}
        assert len(names) == 1
        events[names.pop()] += len(row.events)
        assert len(row.recipients) == 3  # the rep, the team's manager, the admin
    assert events["messages.changed"] == 2000  # one per conversation
    assert events["conversations.changed"] == sum(math.ceil(n / CONVERSATIONS_PER_EVENT) for n in per_rep.values())
    assert max(len(data["conversations"]) for row in rows for name, data in row.events
               if name == "conversations.changed") == CONVERSATIONS_PER_EVENT
