"""`campaign.progress`: a campaign's live figures go to the managers of its team and the admins,
after the change commits, coalesced (a burst of changes is one count and one event), nothing on a
rollback; over a real socket (daphne, a Celery worker) a manager of another team never gets it."""
import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.db import transaction

from campaigns.hooks import on_message_status
from campaigns.models import CampaignRecipient, PendingProgress
from campaigns.services.campaigns import campaign_pause
from campaigns.services.progress import campaign_progress_changed, pending_progress_drain
from campaigns.tests.world import make_campaign, make_contact, start, utc, wall
from core.events import check_payload
from core.models import EventOutbox
from inbox.models import Message
from inbox.tests.factories import make_channel, make_rep, make_rep_channel, make_team, make_user
from inbox.tests.socket_client import Socket

NOW = utc(2030, 6, 1, 10)


def _world():
    team_a, team_b = make_team(), make_team()
    channel = make_channel()
    rep = make_rep(team=team_a)
    make_rep_channel(rep, channel, capacity=100)
    for score in (5, 9, 7):
        make_contact(team=team_a, tags=["spring"], lead_score=score)
    make_contact(team=team_b, tags=["spring"])
    manager_a = make_rep(team=team_a, role="manager").user
    return {"team_a": team_a, "channel": channel, "rep": rep, "manager_a": manager_a,
            "manager_b": make_rep(team=team_b, role="manager").user, "admin": make_user(superuser=True)}


def _campaign(w):
    return make_campaign(w["channel"], start=wall(2030, 6, 1, 9), end=wall(2030, 6, 3, 17), user=w["manager_a"],
                         audience={"tags_any": ["spring"]})


def _progress_rows():
    return [(row.recipients, data) for row in EventOutbox.objects.order_by("id")
            for name, data in row.events if name == "campaign.progress"]


@pytest.mark.django_db
def test_a_start_marks_the_campaign_after_commit_and_the_drain_emits_its_figures_to_its_watchers(django_capture_on_commit_callbacks):
    w = _world()
    campaign = _campaign(w)
    with django_capture_on_commit_callbacks(execute=True):
        start(campaign, NOW)
    assert list(PendingProgress.objects.values_list("campaign_id", flat=True)) == [campaign.id]
    EventOutbox.objects.all().delete()  # the planner's own inbox events
    assert pending_progress_drain() == 1
    [(recipients, data)] = _progress_rows()
    assert recipients == sorted([w["manager_a"].id, w["admin"].id])  # never team B's manager, never the rep
    check_payload("campaign.progress", data)
    # 09:00 wall clock has passed at NOW (10:00 UTC) for the contacts: the start made it running at once.
    assert (data["campaign_id"], data["team_id"], data["status"], data["recipients"]) == (campaign.id, w["team_a"].id, "running", 3)
    assert data["progress"] == {"planned": 3, "waiting": 3, "sent": 0, "delivered": 0, "read": 0, "replied": 0, "failed": 0,
                                "skipped": 0, "cancelled": 0}
    assert not PendingProgress.objects.exists() and pending_progress_drain() == 0


@pytest.mark.django_db
def test_a_burst_of_status_changes_is_one_mark_and_one_event_with_the_latest_figures(django_capture_on_commit_callbacks):
    w = _world()
    campaign = _campaign(w)
    start(campaign, NOW)
    pending_progress_drain()
    EventOutbox.objects.all().delete()
    recipients = list(CampaignRecipient.objects.filter(campaign=campaign).order_by("id"))
    for recipient in recipients:
        Message.objects.filter(pk=recipient.message_id).update(status="sent", sent_at=NOW)
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            on_message_status(recipient_id=recipient.id, status="sent")
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        on_message_status(recipient_id=recipients[0].id, status="delivered")
    assert PendingProgress.objects.count() == 1
    assert pending_progress_drain() == 1
    [(_, data)] = _progress_rows()
    assert (data["progress"]["sent"], data["progress"]["delivered"], data["progress"]["waiting"]) == (3, 1, 0)


@pytest.mark.django_db
def test_a_rolled_back_change_marks_nothing_and_a_later_commit_still_does(django_capture_on_commit_callbacks):
    w = _world()
    campaign = _campaign(w)
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            campaign_progress_changed(campaign_ids=[campaign.id])
            raise RuntimeError("rolled back")
    assert not PendingProgress.objects.exists()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        campaign_progress_changed(campaign_ids=[campaign.id])
    assert list(PendingProgress.objects.values_list("campaign_id", flat=True)) == [campaign.id]


@pytest.mark.django_db
def test_pause_and_a_campaign_without_team_reach_the_admins(django_capture_on_commit_callbacks):
    w = _world()
    campaign = make_campaign(w["channel"], start=wall(2030, 6, 1, 9), end=wall(2030, 6, 3, 17), user=w["admin"])
    start(campaign, NOW)
    pending_progress_drain()
    EventOutbox.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        campaign_pause(campaign_id=campaign.id)
    pending_progress_drain()
    [(recipients, data)] = _progress_rows()
    assert recipients == [w["admin"].id] and data["status"] == "paused" and data["team_id"] is None


@pytest.mark.django_db(transaction=True)
def test_progress_reaches_the_teams_manager_and_the_admin_over_the_socket_never_another_teams_manager(
        asgi_server, celery_worker_proc, api_for):
    w = _world()
    campaign = _campaign(w)
    client = api_for(w["manager_a"])

    async def scenario():
        sockets = {name: await Socket.open(asgi_server, w[name]) for name in ("manager_a", "manager_b", "admin")}
        for socket in sockets.values():
            assert (await socket.frame())["event"] == "ready"
        response = await sync_to_async(client.post)(f"/api/campaigns/{campaign.id}/start/")
        assert response.status_code == 200, response.json()

        def is_progress(frame):
            return frame["event"] == "campaign.progress" and frame["data"]["campaign_id"] == campaign.id

        got = {name: (await sockets[name].frames_until(is_progress, timeout=20))[-1] for name in ("manager_a", "admin")}
        others = await sockets["manager_b"].quiet(2.0)
        for socket in sockets.values():
            await socket.close()
        return got, others

    got, others = asyncio.run(scenario())
    for frame in got.values():
        assert frame["seq"] is not None  # stored: a socket that reconnects gets it on resume
        assert frame["data"]["progress"]["planned"] == 3 and frame["data"]["team_id"] == w["team_a"].id
    assert not [f for f in others if f["event"] == "campaign.progress"], others
