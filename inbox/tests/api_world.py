"""One small world for the API tests: two reps of team A, a manager of each team, an admin,
conversations of each rep and an unassigned one, messages, contacts and a template."""
from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.utils import timezone

from inbox.models import Contact, Conversation, Message, Template
from inbox.tests.factories import make_channel, make_conversation, make_rep, make_rep_channel, make_team
from salesreps.models import Channel, SalesRep, SalesRepChannel


@dataclass
class World:
    rep_a: SalesRep
    rep_b: SalesRep
    manager_a: SalesRep
    manager_b: SalesRep
    admin: object
    channel: Channel
    rep_channel_a: SalesRepChannel
    conv_a: Conversation
    conv_b: Conversation
    conv_unassigned: Conversation
    conv_team_b: Conversation
    msg_a: Message  # inbound, searchable words
    failed_a: Message  # outbound, failed: retryable
    msg_b: Message
    owned_a: Contact  # owned by rep A, no conversation
    template: Template

    def users(self) -> dict:
        return {"rep_a": self.rep_a.user, "rep_b": self.rep_b.user, "manager_b": self.manager_b.user,
                "manager_a": self.manager_a.user, "admin": self.admin}


def message(conversation: Conversation, body: str, *, direction: str = "in", status: str = "received", **fields) -> Message:
    msg = Message.objects.create(conversation=conversation, channel=conversation.channel, direction=direction,
                                 status=status, body=body, **fields)
    Conversation.objects.filter(pk=conversation.pk).update(last_message_at=msg.created_at, last_message_preview=body[:200])
    return msg


def build_world() -> World:
    team_a, team_b = make_team("Team A"), make_team("Team B")
    rep_a = make_rep("alice", team=team_a)
    rep_b = make_rep("bob", team=team_a)
    manager_a = make_rep("maya", team=team_a, role="manager")
    manager_b = make_rep("mike", team=team_b, role="manager")
    rep_c = make_rep("carol", team=team_b)
    admin = get_user_model().objects.create_superuser("root", password="pass-root")
    channel = make_channel("service", name="Service Desk")
    rep_channel_a = make_rep_channel(rep_a, channel)
    make_rep_channel(rep_b, channel)
    conv_a = make_conversation(rep_a, channel, name="Ada Lovelace", phone="+447700900123", email="ada@example.com")
    conv_b = make_conversation(rep_b, channel, name="Bert Kaempfert", phone="+4915112345678")
    conv_unassigned = make_conversation(None, channel, name="Una Signed")
    conv_team_b = make_conversation(rep_c, channel, name="Carla Bruni")
    msg_a = message(conv_a, "The pineapple shipment arrives tomorrow")
    failed_a = message(conv_a, "Our offer ends Friday", direction="out", status="failed", error_code="500",
                       sender=rep_a, due_at=timezone.now())
    msg_b = message(conv_b, "Bob's pineapple order is confirmed")
    owned_a = Contact.objects.create(name="Olive Owned", phone="+33612345678", owner=rep_a)
    template = Template.objects.create(name="offer", body="Hello {name}, your offer ends {day}.",
                                       translations={"fr": "Bonjour {name}, votre offre se termine {day}."})
    return World(rep_a, rep_b, manager_a, manager_b, admin, channel, rep_channel_a, conv_a, conv_b, conv_unassigned,
                 conv_team_b, msg_a, failed_a, msg_b, owned_a, template)
