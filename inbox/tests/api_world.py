"""One small world for the API tests, seeded across teams: two reps of team A, a manager of each
team, a rep of team B, a manager without a team, an admin; conversations of each rep, unassigned
ones of each team (one by its contact's team, one by its channel's) and one of no team; contacts
of each team; campaigns of each team and one of no team; messages and a template.

Who sees what (the team boundary, inbox.selectors / salesreps.selectors.managed_team_ids) is
spelled out per role in `World.scope()`: the matrix tests assert that every route, socket and
feed answers exactly those ids."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from inbox.models import Contact, Conversation, Message, Template
from inbox.tests.factories import make_channel, make_conversation, make_rep, make_rep_channel, make_team
from salesreps.models import Channel, SalesRep, SalesRepChannel, Team

ROLES = ("rep_a", "rep_b", "manager_a", "manager_b", "manager_none", "admin")


@dataclass
class World:
    rep_a: SalesRep
    rep_b: SalesRep
    manager_a: SalesRep
    manager_b: SalesRep
    admin: object
    channel: Channel  # team A's
    rep_channel_a: SalesRepChannel
    conv_a: Conversation
    conv_b: Conversation
    conv_unassigned: Conversation  # team A's by its contact's team
    conv_team_b: Conversation
    msg_a: Message  # inbound, searchable words
    failed_a: Message  # outbound, failed: retryable
    msg_b: Message
    owned_a: Contact  # owned by rep A, no conversation
    template: Template
    # ---- the other teams' side ----
    team_a: Team = None
    team_b: Team = None
    rep_c: SalesRep = None  # team B
    manager_none: SalesRep = None  # a manager without a team
    channel_b: Channel = None  # team B's
    channel_free: Channel = None  # no team
    conv_unassigned_b: Conversation = None  # team B's by its channel's team (its contact has none)
    conv_nobody: Conversation = None  # no team at all: admins only
    contact_b: Contact = None  # team B's, no conversation
    messages: dict = None  # conversation id → its inbound "pineapple" message
    campaign_a: object = None  # running, team A's
    campaign_b: object = None  # running, team B's
    campaign_admin: object = None  # a draft of no team: admins only
    recipient_a: object = None
    recipient_b: object = None

    def users(self) -> dict:
        return {"rep_a": self.rep_a.user, "rep_b": self.rep_b.user, "manager_b": self.manager_b.user,
                "manager_a": self.manager_a.user, "admin": self.admin,
                **({"manager_none": self.manager_none.user} if self.manager_none else {})}

    def conversations(self) -> list[Conversation]:
        return [self.conv_a, self.conv_b, self.conv_unassigned, self.conv_team_b, self.conv_unassigned_b, self.conv_nobody]

    def contacts(self) -> list[int]:
        return sorted({c.contact_id for c in self.conversations()} | {self.owned_a.id, self.contact_b.id})

    def scope(self, role: str) -> dict[str, set[int]]:
        """The ids each role may see, written out by hand (not computed by the code under test)."""
        a, b, un_a = self.conv_a, self.conv_b, self.conv_unassigned
        team_b, un_b, nobody = self.conv_team_b, self.conv_unassigned_b, self.conv_nobody
        team_a_convs = {a.id, b.id, un_a.id}
        team_b_convs = {team_b.id, un_b.id}
        everything = {c.id for c in self.conversations()}
        conversations = {
            "rep_a": {a.id}, "rep_b": {b.id}, "manager_a": team_a_convs, "manager_b": team_b_convs,
            "manager_none": set(), "admin": everything,
        }[role]
        contact_of = {c.id: c.contact_id for c in self.conversations()}
        contacts = {contact_of[c] for c in conversations} | {
            "rep_a": {self.owned_a.id}, "manager_a": {self.owned_a.id}, "manager_b": {self.contact_b.id},
            "admin": {self.owned_a.id, self.contact_b.id},
        }.get(role, set())
        campaigns = {"manager_a": {self.campaign_a.id}, "manager_b": {self.campaign_b.id},
                     "admin": {self.campaign_a.id, self.campaign_b.id, self.campaign_admin.id}}.get(role, set())
        reps = {
            "rep_a": {self.rep_a.id}, "rep_b": {self.rep_b.id},
            "manager_a": {self.rep_a.id, self.rep_b.id, self.manager_a.id},
            "manager_b": {self.manager_b.id, self.rep_c.id}, "manager_none": {self.manager_none.id},
            "admin": set(SalesRep.objects.values_list("id", flat=True)),
        }[role]
        return {
            "conversations": conversations,
            "unassigned": conversations & {un_a.id, un_b.id, nobody.id},
            "messages": {self.messages[c] for c in conversations},
            "contacts": contacts,
            "campaigns": campaigns,
            "reps": reps,
        }


def message(conversation: Conversation, body: str, *, direction: str = "in", status: str = "received", **fields) -> Message:
    msg = Message.objects.create(conversation=conversation, channel=conversation.channel, direction=direction,
                                 status=status, body=body, **fields)
    Conversation.objects.filter(pk=conversation.pk).update(last_message_at=msg.created_at, last_message_preview=body[:200])
    return msg


def _campaigns(world: World) -> None:
    from campaigns.models import Campaign, CampaignRecipient

    start = datetime(2030, 3, 8, 9, tzinfo=UTC)
    fields = {"text": "Hello {first_name}", "start_at": start, "end_at": start + timedelta(hours=8)}
    world.campaign_a = Campaign.objects.create(name="Spring A", channel=world.channel, team=world.team_a, status="running",
                                               created_by=world.manager_a.user, **fields)
    world.campaign_b = Campaign.objects.create(name="Spring B", channel=world.channel_b, team=world.team_b, status="running",
                                               created_by=world.manager_b.user, **fields)
    world.campaign_admin = Campaign.objects.create(name="Company-wide", channel=world.channel_free, created_by=world.admin,
                                                   **fields)
    world.recipient_a = CampaignRecipient.objects.create(campaign=world.campaign_a, contact_id=world.conv_a.contact_id,
                                                         channel=world.channel, rep=world.rep_a)
    world.recipient_b = CampaignRecipient.objects.create(campaign=world.campaign_b, contact_id=world.conv_team_b.contact_id,
                                                         channel=world.channel_b, rep=world.rep_c)


def build_world() -> World:
    team_a, team_b = make_team("Team A"), make_team("Team B")
    rep_a = make_rep("alice", team=team_a)
    rep_b = make_rep("bob", team=team_a)
    manager_a = make_rep("maya", team=team_a, role="manager")
    manager_b = make_rep("mike", team=team_b, role="manager")
    manager_none = make_rep("nina", role="manager")
    rep_c = make_rep("carol", team=team_b)
    admin = get_user_model().objects.create_superuser("root", password="pass-root")
    channel = make_channel("service", name="Service Desk", team=team_a)
    channel_b = make_channel("service", name="Team B Line", team=team_b)
    channel_free = make_channel("service", name="Shared Line")
    rep_channel_a = make_rep_channel(rep_a, channel)
    make_rep_channel(rep_b, channel)
    make_rep_channel(rep_c, channel_b)
    make_rep_channel(rep_c, channel_free)
    conv_a = make_conversation(rep_a, channel, name="Ada Lovelace", phone="+447700900123", email="ada@example.com", team=team_a)
    conv_b = make_conversation(rep_b, channel, name="Bert Kaempfert", phone="+4915112345678", team=team_a)
    conv_unassigned = make_conversation(None, channel_b, name="Una Signed", team=team_a)
    conv_team_b = make_conversation(rep_c, channel, name="Carla Bruni", team=team_b)
    conv_unassigned_b = make_conversation(None, channel_b, name="Ulla Unknown")
    conv_nobody = make_conversation(None, channel_free, name="Noor Nobody")
    msg_a = message(conv_a, "The pineapple shipment arrives tomorrow")
    failed_a = message(conv_a, "Our offer ends Friday", direction="out", status="failed", error_code="500",
                       sender=rep_a, due_at=timezone.now())
    msg_b = message(conv_b, "Bob's pineapple order is confirmed")
    messages = {conv_a.id: msg_a.id, conv_b.id: msg_b.id}
    for conversation in (conv_unassigned, conv_team_b, conv_unassigned_b, conv_nobody):
        messages[conversation.id] = message(conversation, f"A pineapple question from {conversation.contact.name}").id
    owned_a = Contact.objects.create(name="Olive Owned", phone="+33612345678", owner=rep_a, team=team_a)
    contact_b = Contact.objects.create(name="Bella Beyond", phone="+33612345699", email="bella@example.com", tags=["vip"],
                                       team=team_b)
    template = Template.objects.create(name="offer", body="Hello {name}, your offer ends {day}.",
                                       translations={"fr": "Bonjour {name}, votre offre se termine {day}."})
    world = World(rep_a, rep_b, manager_a, manager_b, admin, channel, rep_channel_a, conv_a, conv_b, conv_unassigned,
                  conv_team_b, msg_a, failed_a, msg_b, owned_a, template, team_a=team_a, team_b=team_b, rep_c=rep_c,
                  manager_none=manager_none, channel_b=channel_b, channel_free=channel_free,
                  conv_unassigned_b=conv_unassigned_b, conv_nobody=conv_nobody, contact_b=contact_b, messages=messages)
    _campaigns(world)
    return world
