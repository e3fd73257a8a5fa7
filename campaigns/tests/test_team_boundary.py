"""A campaign is its team's: its audience is that team's contacts, its messages go on that team's
reps' capacity, on a channel that team's reps work; the recipients, stats and dashboard show
nothing of another team. Driven through /api/campaigns/ as each manager."""
from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import Campaign, CampaignRecipient
from campaigns.services.planning import OTHER_TEAM
from campaigns.tests.world import make_contact
from inbox.models import Conversation, Message
from inbox.tests.factories import make_channel, make_conversation, make_rep, make_rep_channel, make_team, make_user


@pytest.fixture
def world(db):
    team_a, team_b = make_team(), make_team()
    shared = make_channel()  # worked by a rep of each team
    only_b = make_channel()
    rep_a, rep_b = make_rep(team=team_a), make_rep(team=team_b)
    make_rep_channel(rep_a, shared)
    make_rep_channel(rep_b, shared)
    make_rep_channel(rep_b, only_b)
    contacts_a = [make_contact(tags=["vip"], lead_score=s, team=team_a) for s in (10, 50)]
    contacts_b = [make_contact(tags=["vip"], lead_score=s, team=team_b) for s in (90, 99)]
    nobody = make_contact(tags=["vip"], lead_score=80)  # no team: only a company-wide (admin) campaign reaches it
    return {
        "team_a": team_a, "team_b": team_b, "shared": shared, "only_b": only_b, "rep_a": rep_a, "rep_b": rep_b,
        "manager_a": make_rep(team=team_a, role="manager").user, "manager_b": make_rep(team=team_b, role="manager").user,
        "manager_none": make_rep(role="manager").user, "admin": make_user(superuser=True),
        "contacts_a": contacts_a, "contacts_b": contacts_b, "nobody": nobody,
    }


def body(channel, **overrides) -> dict:
    now = timezone.now().replace(tzinfo=None, microsecond=0)
    return {"name": "Team promo", "channel": channel.id, "text": "Hello {first_name}", "audience": {"tags_any": ["vip"]},
            "start_at": (now - timedelta(hours=14)).isoformat(), "end_at": (now + timedelta(days=2)).isoformat(), **overrides}


def started(client, channel, **overrides) -> dict:
    created = client.post("/api/campaigns/", body(channel, **overrides), format="json")
    assert created.status_code == 201, created.json()
    response = client.post(f"/api/campaigns/{created.json()['id']}/start/")
    assert response.status_code == 200, response.json()
    return response.json()


def test_a_managers_audience_recipients_and_sends_are_their_teams_only(world, api_for):
    client = api_for(world["manager_a"])
    plan = started(client, world["shared"])
    campaign = Campaign.objects.get(pk=plan["campaign"]["id"])
    team_a_ids = {c.id for c in world["contacts_a"]}
    assert set(CampaignRecipient.objects.filter(campaign=campaign).values_list("contact_id", flat=True)) == team_a_ids
    pages = client.get(f"/api/campaigns/{campaign.id}/recipients/").json()["results"]
    assert {row["contact"] for row in pages} == team_a_ids  # never another team's names and lead scores
    # every message goes on team A's rep, never on team B's rep who works the same channel
    messages = Message.objects.filter(campaign_recipient_id__isnull=False)
    assert messages.count() == 2 and set(messages.values_list("conversation__rep_id", flat=True)) == {world["rep_a"].id}
    assert set(plan["plan"]["per_rep"]) == {str(world["rep_a"].id)}
    stats = client.get(f"/api/campaigns/{campaign.id}/stats/").json()
    assert {row["rep_id"] for row in stats["per_rep"]} == {world["rep_a"].id}
    assert campaign.team == world["team_a"] and plan["campaign"]["team"] == world["team_a"].id


def test_another_team_and_an_admin_campaign_reach_their_own_audiences(world, api_for):
    plan_b = started(api_for(world["manager_b"]), world["only_b"])
    assert set(CampaignRecipient.objects.filter(campaign_id=plan_b["campaign"]["id"]).values_list("contact_id", flat=True)) == {
        c.id for c in world["contacts_b"]}
    # an admin's campaign is the company's (every contact, every rep), unless the admin names a team
    admin = api_for(world["admin"])
    company = started(admin, world["shared"], name="Company")
    everyone = {c.id for c in world["contacts_a"] + world["contacts_b"]} | {world["nobody"].id}
    assert set(CampaignRecipient.objects.filter(campaign_id=company["campaign"]["id"]).values_list("contact_id", flat=True)) == everyone
    for_b = started(admin, world["shared"], name="For B", team=world["team_b"].id)
    assert set(CampaignRecipient.objects.filter(campaign_id=for_b["campaign"]["id"]).values_list("contact_id", flat=True)) == {
        c.id for c in world["contacts_b"]}
    assert set(Message.objects.filter(campaign_recipient_id__in=CampaignRecipient.objects.filter(
        campaign_id=for_b["campaign"]["id"]).values("id")).values_list("conversation__rep_id", flat=True)) == {world["rep_b"].id}


def test_a_manager_uses_only_channels_their_reps_work_and_only_their_team(world, api_for):
    client = api_for(world["manager_a"])
    refused = client.post("/api/campaigns/", body(world["only_b"]), format="json")
    assert refused.status_code == 400 and "no reps of the campaign's team" in refused.json()["detail"]
    step_elsewhere = client.post("/api/campaigns/", body(world["shared"], steps=[{"number": 1, "channel": world["only_b"].id}]),
                                 format="json")
    assert step_elsewhere.status_code == 400 and "step 1: channel" in step_elsewhere.json()["detail"]
    assert client.post("/api/campaigns/", body(world["shared"], team=world["team_b"].id), format="json").status_code == 403
    created = client.post("/api/campaigns/", body(world["shared"]), format="json").json()
    assert client.patch(f"/api/campaigns/{created['id']}/", {"team": world["team_b"].id}, format="json").status_code == 400
    # a manager without a team runs no campaigns
    assert api_for(world["manager_none"]).post("/api/campaigns/", body(world["shared"]), format="json").status_code == 403
    assert api_for(world["manager_none"]).get("/api/campaigns/").status_code == 403
    # team B's manager never sees team A's campaign
    assert api_for(world["manager_b"]).get(f"/api/campaigns/{created['id']}/").status_code == 404
    assert api_for(world["manager_b"]).get("/api/campaigns/").json()["results"] == []


def test_a_contact_talking_with_another_teams_rep_is_skipped_not_sent_on_their_capacity(world, api_for):
    contact = world["contacts_a"][0]
    held = make_conversation(world["rep_b"], world["shared"], contact=contact)
    plan = started(api_for(world["manager_a"]), world["shared"])
    assert plan["plan"]["reasons"] == {OTHER_TEAM: 1} and plan["plan"]["scheduled"] == 1
    recipient = CampaignRecipient.objects.get(campaign_id=plan["campaign"]["id"], contact=contact)
    assert (recipient.state, recipient.reason) == ("skipped", OTHER_TEAM)
    assert not Message.objects.filter(conversation=held).exists()
    assert Conversation.objects.get(pk=held.pk).rep_id == world["rep_b"].id


def test_the_dashboard_lists_only_the_teams_campaigns(world, api_for):
    a = started(api_for(world["manager_a"]), world["shared"])
    b = started(api_for(world["manager_b"]), world["only_b"])
    assert {c["id"] for c in api_for(world["manager_a"]).get("/api/dashboard/").json()["campaigns"]} == {a["campaign"]["id"]}
    assert {c["id"] for c in api_for(world["manager_b"]).get("/api/dashboard/").json()["campaigns"]} == {b["campaign"]["id"]}
    assert {c["id"] for c in api_for(world["admin"]).get("/api/dashboard/").json()["campaigns"]} == {
        a["campaign"]["id"], b["campaign"]["id"]}
    assert api_for(world["manager_none"]).get("/api/dashboard/").status_code == 403


def test_bulk_changes_of_an_unassigned_conversation_reach_its_teams_managers(world, api_for, django_capture_on_commit_callbacks):
    """A campaign paused while one of its conversations waits unassigned: `messages.changed` goes to
    that conversation's team's managers (and admins), not only to admins, nor to another team."""
    from core.models import UserEvent
    from core.realtime import relay
    from inbox.services.conversations import conversation_assign

    client = api_for(world["manager_a"])
    plan = started(client, world["shared"])
    conversation = Message.objects.filter(campaign_recipient_id__isnull=False).first().conversation
    conversation_assign(user=world["manager_a"], conversation_id=conversation.id, rep_id=None)
    relay()  # what the start and the assignment told, out of the way
    UserEvent.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/api/campaigns/{plan['campaign']['id']}/pause/").status_code == 200
    told = set(UserEvent.objects.filter(name="messages.changed", data__conversation_id=conversation.id)
               .values_list("user_id", flat=True))
    assert told == {world["manager_a"].id, world["admin"].id}
