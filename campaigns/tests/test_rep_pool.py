"""A campaign's rep pool: the manager chooses which of the team's reps send it. Only pool reps
send (the planner assigns and the dispatcher sends through their rep-channels); an empty pool is
every rep of the team on the channel; a rep outside the team is a 400 naming `reps` and the rep.
Driven through /api/campaigns/ as the team's manager, then the real dispatcher."""
from datetime import timedelta

import pytest

from campaigns.models import Campaign, CampaignRecipient
from campaigns.services.planning import OUTSIDE_POOL
from campaigns.tests.world import make_contact, utc
from inbox.models import Conversation, Message
from inbox.services.outbound import dispatch_due_messages
from inbox.tests.factories import make_channel, make_conversation, make_rep, make_rep_channel, make_team
from salesreps.models import ActivityRecord

NOW = utc(2030, 3, 4, 10)


@pytest.fixture
def world(db):
    team_a, team_b = make_team(), make_team()
    channel, other = make_channel(), make_channel()
    ana, ben, cai = make_rep("ana", team=team_a), make_rep("ben", team=team_a), make_rep("cai", team=team_a)
    olga = make_rep("olga", team=team_b)
    rcs = {rep.id: make_rep_channel(rep, channel, capacity=100) for rep in (ana, ben, olga)}
    make_rep_channel(cai, other)  # on the team, not on the channel
    contacts = [make_contact(tags=["vip"], team=team_a, lead_score=s) for s in range(8)]
    return {"team_a": team_a, "channel": channel, "ana": ana, "ben": ben, "cai": cai, "olga": olga, "rcs": rcs, "contacts": contacts,
            "manager": make_rep("mia", team=team_a, role="manager").user}


def body(world, **overrides) -> dict:
    return {"name": "Pool promo", "channel": world["channel"].id, "text": "Hello {first_name}", "audience": {"tags_any": ["vip"]},
            "start_at": "2030-03-04T00:00:00", "end_at": "2030-03-06T00:00:00", **overrides}


def create(client, world, **overrides):
    return client.post("/api/campaigns/", body(world, **overrides), format="json")


def start_at(campaign_id: int):
    from campaigns.services.campaigns import campaign_start

    return campaign_start(campaign_id=campaign_id, now=NOW)


def test_the_pool_is_stored_shown_and_edited_through_the_api(world, api_for):
    client = api_for(world["manager"])
    created = create(client, world, reps=[world["ana"].id])
    assert created.status_code == 201, created.json()
    data = created.json()
    assert data["reps"] == [world["ana"].id] and data["rep_pool"] == [{"id": world["ana"].id, "full_name": "Ana"}]
    patched = client.patch(f"/api/campaigns/{data['id']}/", {"reps": [world["ana"].id, world["ben"].id]}, format="json")
    assert patched.status_code == 200 and patched.json()["reps"] == sorted([world["ana"].id, world["ben"].id])
    # PATCH without reps keeps the pool; PUT replaces the whole draft, the pool with it
    assert client.patch(f"/api/campaigns/{data['id']}/", {"name": "Renamed"}, format="json").json()["reps"] == sorted(
        [world["ana"].id, world["ben"].id])
    put = client.put(f"/api/campaigns/{data['id']}/", body(world), format="json")
    assert put.status_code == 200 and put.json()["reps"] == []


@pytest.mark.parametrize(("who", "says"), [
    ("olga", "is not a rep of the campaign's team"),  # another team's rep
    ("cai", "works channel"),  # the team's, but not on the channel: the pool could send nothing
])
def test_a_pool_rep_outside_the_team_or_channel_is_a_400_naming_reps_and_the_rep(world, api_for, who, says):
    rep = world[who]
    response = create(api_for(world["manager"]), world, reps=[rep.id])
    assert response.status_code == 400
    [message] = response.json()["reps"]
    assert says in message and f"{rep.id} ({rep.full_name})" in message
    assert not Campaign.objects.exists()


def test_an_unknown_rep_is_a_400_naming_reps_and_the_id(world, api_for):
    response = create(api_for(world["manager"]), world, reps=[987654])
    assert response.status_code == 400 and "987654" in str(response.json()["reps"])
    draft = create(api_for(world["manager"]), world).json()
    patched = api_for(world["manager"]).patch(f"/api/campaigns/{draft['id']}/", {"reps": [world["olga"].id]}, format="json")
    assert patched.status_code == 400 and str(world["olga"].id) in patched.json()["reps"][0]
    assert Campaign.objects.get(pk=draft["id"]).reps.count() == 0


def test_only_pool_reps_send_and_a_conversation_held_outside_the_pool_is_skipped_with_its_reason(world, api_for):
    client = api_for(world["manager"])
    held = world["contacts"][0]
    make_conversation(world["ben"], world["channel"], contact=held)  # Ben keeps his conversation
    owned = world["contacts"][1]
    type(owned).objects.filter(pk=owned.pk).update(owner=world["ben"])  # an owner outside the pool does not pull it to Ben
    campaign = create(client, world, reps=[world["ana"].id]).json()
    result = start_at(campaign["id"])
    assert (result.scheduled, result.reasons, result.per_rep) == (7, {OUTSIDE_POOL: 1}, {world["ana"].id: 7})
    skipped = CampaignRecipient.objects.get(campaign_id=campaign["id"], contact=held)
    assert (skipped.state, skipped.reason) == ("skipped", OUTSIDE_POOL)
    rows = client.get(f"/api/campaigns/{campaign['id']}/recipients/?state=skipped").json()["results"]
    assert [r["why"] for r in rows] == ["the contact's conversation is with a rep outside the rep pool"]

    dispatch_due_messages(max_seconds=60, now=NOW + timedelta(minutes=1), batch=200)
    dispatch_due_messages(max_seconds=60, now=NOW + timedelta(hours=6), batch=200)  # what pacing deferred
    messages = Message.objects.filter(campaign_recipient_id__in=CampaignRecipient.objects.filter(campaign_id=campaign["id"]).values("id"))
    assert messages.filter(status="sent").count() == 7
    assert set(messages.values_list("rep_channel_id", flat=True)) == {world["rcs"][world["ana"].id].id}
    assert set(messages.values_list("conversation__rep_id", flat=True)) == {world["ana"].id}
    ledger = set(ActivityRecord.objects.values_list("rep_channel_activity__rep_channel__rep_id", flat=True))
    assert ledger == {world["ana"].id}
    assert Conversation.objects.get(contact=held, channel=world["channel"]).rep_id == world["ben"].id


def test_an_empty_pool_sends_through_every_rep_of_the_team_on_the_channel(world, api_for):
    campaign = create(api_for(world["manager"]), world).json()
    assert campaign["reps"] == []
    result = start_at(campaign["id"])
    assert result.scheduled == 8 and set(result.per_rep) == {world["ana"].id, world["ben"].id}  # never Olga of team B


def test_a_pool_whose_reps_left_the_channel_refuses_to_start_by_name(world, api_for):
    campaign = create(api_for(world["manager"]), world, reps=[world["ana"].id]).json()
    world["rcs"][world["ana"].id].delete()
    response = api_for(world["manager"]).post(f"/api/campaigns/{campaign['id']}/start/")
    assert response.status_code == 400 and "reps" in response.json()
    assert Campaign.objects.get(pk=campaign["id"]).status == "draft"
    assert not CampaignRecipient.objects.filter(campaign_id=campaign["id"]).exists()
