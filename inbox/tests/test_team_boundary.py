"""Contacts belong to a team — the owner's, the creator's or importer's, or the channel's on a first
inbound message — and only that team's managers (and admins) change who owns one; an unassigned
conversation's events go to its team's managers only. The world is api_world.py's."""
from __future__ import annotations

import json
import time

from django.utils import timezone

from core.models import UserEvent
from inbox.models import Contact, Conversation
from inbox.tests.factories import make_channel, make_conversation
from platforms.base import InboundMessage


def patch(client, path: str, body: dict):
    return client.patch(path, json.dumps(body), content_type="application/json")


def post(client, path: str, body: dict):
    return client.post(path, json.dumps(body), content_type="application/json")


def owner_of(contact_id: int) -> tuple[int | None, int | None]:
    contact = Contact.objects.get(pk=contact_id)
    return contact.owner_id, contact.team_id


def test_a_rep_never_changes_an_owner(world, client_for):
    rep = client_for(world.rep_a.user)
    ada = world.conv_a.contact_id  # rep A's conversation, nobody's contact
    assert patch(rep, f"/api/contacts/{ada}/", {"owner": world.rep_a.id}).status_code == 403  # taking it
    assert patch(rep, f"/api/contacts/{world.owned_a.id}/", {"owner": None}).status_code == 403  # dropping it
    assert patch(rep, f"/api/contacts/{world.owned_a.id}/", {"owner": world.rep_b.id}).status_code == 403  # giving it away
    assert owner_of(ada) == (None, world.team_a.id) and owner_of(world.owned_a.id) == (world.rep_a.id, world.team_a.id)
    # writing the owner back as it is changes nothing and is allowed
    assert patch(rep, f"/api/contacts/{world.owned_a.id}/", {"owner": world.rep_a.id, "name": "Olive O."}).status_code == 200


def test_only_the_contacts_team_managers_and_admins_change_its_owner(world, client_for):
    ada = world.conv_a.contact_id
    manager_a, manager_b = client_for(world.manager_a.user), client_for(world.manager_b.user)
    assert patch(manager_a, f"/api/contacts/{ada}/", {"owner": world.rep_c.id}).status_code == 400  # not a rep of hers
    assert patch(manager_b, f"/api/contacts/{ada}/", {"owner": world.rep_c.id}).status_code == 404  # not a contact of his
    assert patch(client_for(world.manager_none.user), f"/api/contacts/{ada}/", {"owner": None}).status_code == 404
    assert patch(manager_a, f"/api/contacts/{ada}/", {"owner": world.rep_b.id}).status_code == 200
    assert owner_of(ada) == (world.rep_b.id, world.team_a.id)
    # team B's contact talking with team A's rep: team A's manager sees it, but it is not hers to give
    carla = world.conv_team_b.contact_id
    make_conversation(world.rep_a, world.channel_free, contact=Contact.objects.get(pk=carla))
    assert client_for(world.manager_a.user).get(f"/api/contacts/{carla}/").status_code == 200
    assert patch(manager_a, f"/api/contacts/{carla}/", {"owner": world.rep_a.id}).status_code == 403
    # an admin gives a contact to anyone; the contact follows its owner's team
    assert patch(client_for(world.admin), f"/api/contacts/{ada}/", {"owner": world.rep_c.id}).status_code == 200
    assert owner_of(ada) == (world.rep_c.id, world.team_b.id)


def test_a_new_contact_belongs_to_its_owners_or_its_creators_team(world, client_for):
    made = {}
    for role, body in (("rep_b", {}), ("manager_b", {}), ("manager_a", {"owner": world.rep_b.id}), ("admin", {}),
                       ("admin", {"owner": world.rep_c.id})):
        response = post(client_for(world.users()[role]), "/api/contacts/", {"name": f"New for {role}", **body})
        assert response.status_code == 201, response.json()
        made[(role, tuple(body.values()))] = (response.json()["owner"], response.json()["team"])
    assert made == {
        ("rep_b", ()): (world.rep_b.id, world.team_a.id),
        ("manager_b", ()): (world.manager_b.id, world.team_b.id),
        ("manager_a", (world.rep_b.id,)): (world.rep_b.id, world.team_a.id),
        ("admin", ()): (None, None),  # the company's: admins only
        ("admin", (world.rep_c.id,)): (world.rep_c.id, world.team_b.id),
    }


def test_a_first_inbound_message_makes_a_contact_of_the_channels_team_whose_managers_only_see_it(world, client_for):
    from inbox.services.messages import message_receive

    quiet = make_channel("service", name="Team A Night Line", team=world.team_a)  # no rep works it: nobody to assign
    event = InboundMessage(channel_key=quiet.routing_key, external_id=f"ext-{time.monotonic_ns()}", contact_id="night-owl",
                           timestamp=timezone.now(), text="anyone there?")
    message = message_receive(channel=quiet, event=event)
    conversation = Conversation.objects.select_related("contact").get(pk=message.conversation_id)
    assert conversation.rep_id is None and conversation.contact.team_id == world.team_a.id
    for role, sees in (("manager_a", True), ("manager_b", False), ("manager_none", False), ("admin", True), ("rep_a", False)):
        client = client_for(world.users()[role])
        listed = {c["id"] for c in client.get("/api/conversations/?rep=none&page_size=100").json()["results"]}
        assert (conversation.id in listed) is sees, role
        assert (client.get(f"/api/contacts/{conversation.contact_id}/").status_code == 200) is sees, role


def test_an_unassigned_conversations_events_go_to_its_teams_managers_only(world, django_capture_on_commit_callbacks):
    from inbox.services.messages import message_receive

    def told(conversation) -> set[int]:
        UserEvent.objects.all().delete()
        identity = conversation.contact.identities.get(channel=conversation.channel)
        event = InboundMessage(channel_key=conversation.channel.routing_key, external_id=f"ext-{time.monotonic_ns()}",
                               contact_id=identity.external_id, timestamp=timezone.now(), text="hello?")
        with django_capture_on_commit_callbacks(execute=True):  # events are sequenced after commit
            message_receive(channel=conversation.channel, event=event)
        return set(UserEvent.objects.filter(name="message.created").values_list("user_id", flat=True))

    assert told(world.conv_unassigned) == {world.manager_a.user_id, world.admin.id}  # by its contact's team
    assert told(world.conv_unassigned_b) == {world.manager_b.user_id, world.admin.id}  # by its channel's team
    assert told(world.conv_nobody) == {world.admin.id}  # no team: admins only
