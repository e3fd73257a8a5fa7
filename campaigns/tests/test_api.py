"""/api/campaigns/: managers and admins only, drafts edited, bad input refused with nothing
scheduled, start / pause / resume / cancel, stats and recipients."""
from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone

from campaigns.models import Campaign, CampaignRecipient
from campaigns.services.campaigns import PAUSED_UNTIL
from campaigns.services.progress import pending_progress_drain
from campaigns.tests.world import make_contact
from core.models import EventOutbox
from inbox.models import Conversation, Message, Template
from inbox.services.outbound import dispatch_due_messages
from inbox.tests.factories import make_channel, make_rep, make_rep_channel, make_team, make_user


@pytest.fixture
def world(db):
    team, other_team = make_team(), make_team()
    channel = make_channel()
    manager = make_rep(team=team, role="manager")
    rep = make_rep(team=team)
    make_rep_channel(rep, channel)
    return {
        "channel": channel,
        "manager": manager.user,
        "rep": rep.user,
        "other_manager": make_rep(team=other_team, role="manager").user,
        "admin": make_user(superuser=True),
        "team": team,
        "contacts": [make_contact(tags=["vip"], lead_score=score, team=team) for score in (10, 60, 30)],
    }


def payload(world, **overrides):
    now = timezone.now().replace(tzinfo=None, microsecond=0)
    return {
        "name": "Spring promo",
        "channel": world["channel"].id,
        "text": "Hello {first_name}, {offer}",
        "variables": {"offer": "20% off"},
        "audience": {"tags_any": ["vip"]},
        "start_at": (now - timedelta(hours=1)).isoformat(),
        "end_at": (now + timedelta(days=2)).isoformat(),
        **overrides,
    }


def test_a_manager_creates_a_draft_with_wall_clock_times(world, api_for):
    body = payload(world, steps=[{"number": 1, "delay_hours": 48, "text": "Still interested, {first_name}?"}],
                   start_at="2030-03-08T09:00:00", end_at="2030-03-08T17:00:00",
                   slots=[{"start_at": "2030-03-08T09:00:00", "end_at": "2030-03-08T12:00:00"}])
    response = api_for(world["manager"]).post("/api/campaigns/", body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert (data["status"], data["start_at"], data["end_at"]) == ("draft", "2030-03-08T09:00:00", "2030-03-08T17:00:00")
    assert data["steps"][0]["delay_hours"] == 48 and data["slots"] == [
        {"start_at": "2030-03-08T09:00:00", "end_at": "2030-03-08T12:00:00"}]
    assert data["created_by"] == world["manager"].id
    assert not CampaignRecipient.objects.exists()  # a draft schedules nothing


@pytest.mark.parametrize("who, status", [("rep", 403), ("other_manager", 404), ("admin", 200), ("manager", 200)])
def test_only_the_team_manager_and_admins_see_a_campaign(world, api_for, who, status):
    created = api_for(world["manager"]).post("/api/campaigns/", payload(world), format="json").json()
    response = api_for(world[who]).get(f"/api/campaigns/{created['id']}/")
    assert response.status_code == status


def test_reps_get_403_everywhere(world, api_for):
    client = api_for(world["rep"])
    assert client.get("/api/campaigns/").status_code == 403
    assert client.post("/api/campaigns/", payload(world), format="json").status_code == 403
    assert api_for(None).get("/api/campaigns/").status_code in (401, 403)


@pytest.mark.parametrize("overrides, field, words", [
    ({"end_at": "2020-01-01T00:00:00", "start_at": "2020-01-02T00:00:00"}, "end_at", "after start_at"),
    ({"start_at": "2030-01-01T09:00:00+02:00"}, "start_at", "without a zone offset"),
    ({"audience": {"tags_any": ["nobody-has-this"]}}, "detail", "audience matches no contacts"),
    ({"audience": {"colour": "red"}}, "audience", "unknown filters: colour"),
    ({"text": "Hello {first_name}, {coupon}"}, "detail", "missing variables: coupon"),
    ({"text": "Hello {first_name"}, "detail", "braces do not match"),
    ({"text": ""}, "detail", "give a text or a template"),
    ({"daily_cap": 0}, "daily_cap", "greater than or equal to 1"),
])
def test_bad_input_is_a_400_naming_the_problem_and_nothing_is_stored(world, api_for, overrides, field, words):
    response = api_for(world["manager"]).post("/api/campaigns/", payload(world, **overrides), format="json")
    assert response.status_code == 400
    assert words in str(response.json()[field])
    assert not Campaign.objects.exists() and not Message.objects.exists()


def test_a_template_missing_variables_and_a_channel_without_reps_are_refused(world, api_for):
    template = Template.objects.create(name="promo", body="Hi {first_name}, use {code}", translations={"fr": "Salut {prenom}"})
    response = api_for(world["manager"]).post("/api/campaigns/", payload(world, text="", template=template.id), format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == "campaign: template 'promo' is missing variables: code, prenom (add them to variables)"
    lonely = make_channel(name="lonely")
    response = api_for(world["manager"]).post("/api/campaigns/", payload(world, channel=lonely.id), format="json")
    assert response.status_code == 400
    assert "channel 'lonely' has no reps" in response.json()["detail"]
    assert not Campaign.objects.exists()


def test_start_refuses_when_the_audience_emptied_meanwhile_and_schedules_nothing(world, api_for):
    client = api_for(world["manager"])
    created = client.post("/api/campaigns/", payload(world), format="json").json()
    from inbox.models import Contact

    Contact.objects.update(opted_out=True)
    response = client.post(f"/api/campaigns/{created['id']}/start/")
    assert response.status_code == 400 and "audience matches no contacts" in response.json()["detail"]
    assert Campaign.objects.get().status == "draft"
    assert not CampaignRecipient.objects.exists() and not Message.objects.exists() and not Conversation.objects.exists()


def test_start_pause_resume_cancel(world, api_for):
    client = api_for(world["manager"])
    created = client.post("/api/campaigns/", payload(world), format="json").json()
    url = f"/api/campaigns/{created['id']}"
    started = client.post(f"{url}/start/")
    assert started.status_code == 200, started.json()
    assert started.json()["plan"]["scheduled"] == 3 and started.json()["campaign"]["status"] == "running"  # window open
    assert client.post(f"{url}/start/").status_code == 400  # once only
    assert client.patch(f"{url}/", {"name": "renamed"}, format="json").status_code == 400  # no edits once started

    paused = client.post(f"{url}/pause/")
    assert paused.json() == {**paused.json(), "messages": 3} and paused.json()["campaign"]["status"] == "paused"
    for message in Message.objects.all():
        assert (message.status, message.defer_code, message.defer_reason, message.due_at) == (
            "deferred", "campaign_paused", "campaign paused", PAUSED_UNTIL)
    assert dispatch_due_messages(max_seconds=30) == 0

    resumed = client.post(f"{url}/resume/")
    assert resumed.json()["messages"] == 3 and resumed.json()["campaign"]["status"] == "running"  # nothing sent, window open
    windows = dict(CampaignRecipient.objects.values_list("message_id", "window_start"))
    for message in Message.objects.all():
        assert message.status == "queued" and message.due_at >= windows[message.id]
    dispatch_due_messages(max_seconds=30)
    assert Message.objects.filter(status="sent").count() == 3

    assert client.post(f"{url}/resume/").status_code == 400
    cancelled = client.post(f"{url}/cancel/")
    assert cancelled.json()["campaign"]["status"] == "cancelled"
    assert client.post(f"{url}/cancel/").status_code == 400


def test_starting_a_campaign_whose_window_is_open_makes_it_running_at_once_and_says_so_on_the_socket(
        world, api_for, django_capture_on_commit_callbacks):
    client = api_for(world["manager"])
    created = client.post("/api/campaigns/", payload(world), format="json").json()
    EventOutbox.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(f"/api/campaigns/{created['id']}/start/")
    assert started.status_code == 200, started.json()
    assert started.json()["campaign"]["status"] == "running"  # not "scheduled" until a periodic task runs
    assert client.get(f"/api/campaigns/{created['id']}/").json()["status"] == "running"
    assert client.get(f"/api/campaigns/{created['id']}/stats/").json()["status"] == "running"
    pending_progress_drain()
    frames = [(row.recipients, data) for row in EventOutbox.objects.order_by("id") for name, data in row.events
              if name == "campaign.progress"]
    assert [data["status"] for _, data in frames] == ["running"]
    assert world["manager"].id in frames[0][0] and world["other_manager"].id not in frames[0][0]

    later = client.post("/api/campaigns/", payload(world, name="Next week", start_at="2030-06-01T09:00:00",
                                                   end_at="2030-06-01T17:00:00"), format="json").json()
    assert client.post(f"/api/campaigns/{later['id']}/start/").json()["campaign"]["status"] == "scheduled"  # beat moves it then
    client.post(f"/api/campaigns/{later['id']}/pause/")
    assert client.post(f"/api/campaigns/{later['id']}/resume/").json()["campaign"]["status"] == "scheduled"


def test_cancel_withdraws_unsent_messages(world, api_for):
    client = api_for(world["manager"])
    body = payload(world, start_at="2030-06-01T09:00:00", end_at="2030-06-01T17:00:00")
    created = client.post("/api/campaigns/", body, format="json").json()
    client.post(f"/api/campaigns/{created['id']}/start/")
    response = client.post(f"/api/campaigns/{created['id']}/cancel/")
    assert response.json()["messages"] == 3
    assert set(Message.objects.values_list("status", flat=True)) == {"cancelled"}
    assert set(CampaignRecipient.objects.values_list("state", "reason")) == {("cancelled", "campaign cancelled")}


def test_drafts_are_edited_and_deleted(world, api_for):
    client = api_for(world["manager"])
    created = client.post("/api/campaigns/", payload(world), format="json").json()
    url = f"/api/campaigns/{created['id']}/"
    response = client.patch(url, {"name": "Renamed", "daily_cap": 10, "steps": [{"number": 1, "delay_hours": 2}]}, format="json")
    assert response.status_code == 200, response.json()
    assert (response.json()["name"], response.json()["daily_cap"], len(response.json()["steps"])) == ("Renamed", 10, 1)
    assert client.patch(url, {"steps": [{"number": 2}]}, format="json").status_code == 400  # numbered from 1
    assert client.patch(url, {"end_at": "2001-01-01T00:00:00"}, format="json").status_code == 400
    assert client.delete(url).status_code == 204
    assert not Campaign.objects.exists()


def test_stats_and_recipients_show_states_reps_hours_and_lead_scores(world, api_for):
    client = api_for(world["manager"])
    skipped = make_contact(tags=["vip"], timezone="Asia/Tokyo", allowed_start=time(3), allowed_end=time(4), team=world["team"])
    body = payload(world, start_at="2030-06-01T09:00:00", end_at="2030-06-01T17:00:00")
    created = client.post("/api/campaigns/", body, format="json").json()
    client.post(f"/api/campaigns/{created['id']}/start/")
    at = datetime(2030, 6, 1, 10, tzinfo=UTC)
    dispatch_due_messages(max_seconds=30, now=at)
    stats = client.get(f"/api/campaigns/{created['id']}/stats/").json()
    assert stats["recipients"] == 4
    assert stats["by_state"] == {"scheduled": 0, "sent": 3, "delivered": 0, "read": 0, "failed": 0, "skipped": 1, "cancelled": 0}
    assert stats["reasons"] == {"skipped": {"no_overlap_with_allowed_hours": 1}}
    assert stats["clip"] == {"kept": 3, "narrowed": 0, "skipped": 1}
    rep = world["rep"].salesrep
    assert [(r["rep_id"], r["sent"]) for r in stats["per_rep"] if r["rep_id"]] == [(rep.id, 3)]
    assert stats["per_hour"] == [{"hour": "2030-06-01T10:00:00+00:00", "sent": 3, "delivered": 0, "read": 0}]
    recipients = client.get(f"/api/campaigns/{created['id']}/recipients/").json()
    assert [r["lead_score"] for r in recipients["results"]] == [60, 30, 10, 0]
    assert recipients["results"][-1]["contact"] == skipped.id and recipients["results"][-1]["state"] == "skipped"
    only_sent = client.get(f"/api/campaigns/{created['id']}/recipients/?state=sent").json()
    assert only_sent["count"] == 3


@pytest.mark.django_db(transaction=True)
def test_pause_resume_cancel_tell_the_watchers_once_per_conversation(api_for):
    from core.models import UserEvent

    team = make_team()
    channel = make_channel()
    manager = make_rep(team=team, role="manager")
    rep = make_rep(team=team)
    make_rep_channel(rep, channel)
    contacts = [make_contact(tags=["vip"], team=team) for _ in range(3)]
    client = api_for(manager.user)
    created = client.post("/api/campaigns/", payload({"channel": channel}), format="json").json()
    url = f"/api/campaigns/{created['id']}"
    assert client.post(f"{url}/start/").status_code == 200

    def changes(user):
        return [e for e in UserEvent.objects.filter(user=user, name="messages.changed").order_by("seq").values_list("data", flat=True)]

    for watcher in (rep.user, manager.user):  # the start told them of the planned messages
        assert [c["messages"][0]["status"] for c in changes(watcher)] == ["queued"] * 3
    client.post(f"{url}/pause/")
    for watcher in (rep.user, manager.user):
        paused = changes(watcher)[3:]
        assert len(paused) == 3  # one per conversation, each naming its message's new state
        assert {c["messages"][0]["status"] for c in paused} == {"deferred"}
        assert {c["messages"][0]["defer_code"] for c in paused} == {"campaign_paused"}
        assert {c["conversation_id"] for c in paused} == set(
            Message.objects.filter(conversation__contact__in=contacts).values_list("conversation_id", flat=True))
    client.post(f"{url}/resume/")
    assert [c["messages"][0]["status"] for c in changes(rep.user)[6:]] == ["queued"] * 3
    client.post(f"{url}/cancel/")
    assert [c["messages"][0]["status"] for c in changes(rep.user)[9:]] == ["cancelled"] * 3
