"""Why a recipient waits or was skipped, in words (campaigns.rules.recipient_why), and the
recipients page that shows it: the contact's hours, the campaign's daily cap, an opt-out."""
import datetime as dt
from datetime import timedelta

import pytest

from campaigns.models import CampaignRecipient
from campaigns.rules import NO_OVERLAP, progress_figures, recipient_why
from campaigns.tests.world import make_campaign, make_contact, start, utc, wall
from inbox.models import Contact
from inbox.services.outbound import dispatch_due_messages
from inbox.tests.factories import make_channel, make_rep, make_rep_channel, make_team

NOW = utc(2030, 6, 1, 3)  # 05:00 in Paris


def why(**fields) -> str:
    base = {"state": "scheduled", "reason": "", "clip": "kept", "message_status": "queued", "defer_reason": "", "error_title": "",
            "due_at": None, "window_start": None, "tz": "Europe/Paris", "now": NOW}
    return recipient_why(**{**base, **fields})


@pytest.mark.parametrize(("fields", "said"), [
    ({"due_at": utc(2030, 6, 1, 7), "window_start": utc(2030, 6, 1, 7)}, "outside the contact's hours until 09:00 Europe/Paris"),
    ({"due_at": utc(2030, 6, 2, 7), "window_start": utc(2030, 6, 2, 7)}, "outside the contact's hours until 2030-06-02 09:00 Europe/Paris"),
    ({"due_at": utc(2030, 6, 2, 7), "window_start": utc(2030, 6, 1, 7)},
     "the rep's capacity is promised until then: planned for 2030-06-02 09:00 Europe/Paris"),
    ({"message_status": "deferred", "defer_reason": "campaign daily cap 2 reached until 2030-06-02 00:00 UTC"},
     "campaign daily cap 2 reached until 2030-06-02 00:00 UTC"),
    ({"message_status": "failed", "error_title": "contact opted out (STOP)"}, "contact opted out (STOP)"),
    ({"message_status": "sending"}, "sending now"),
    ({"due_at": NOW - timedelta(minutes=1)}, "due now, queued to send"),
    ({"state": "skipped", "reason": NO_OVERLAP, "message_status": None}, "the campaign window misses the contact's allowed hours"),
    ({"state": "skipped", "reason": "opted_out", "message_status": None}, "opted out"),
    ({"state": "cancelled", "reason": "contact replied"}, "contact replied"),
    ({"state": "sent"}, ""),
    ({"due_at": utc(2030, 6, 1, 7), "window_start": utc(2030, 6, 1, 7), "tz": "Mars/Olympus"},
     "outside the contact's hours until 2030-06-01 07:00 UTC"),
])
def test_why_a_recipient_waits_or_was_skipped(fields, said):
    assert why(**fields) == said


def test_progress_figures_count_what_the_console_shows():
    by_state = {"scheduled": 2, "sent": 3, "delivered": 2, "read": 1, "failed": 1, "skipped": 4, "cancelled": 1}
    assert progress_figures(by_state=by_state, recipients=14, replied=1) == {
        "planned": 10, "waiting": 2, "sent": 6, "delivered": 3, "read": 1, "replied": 1, "failed": 1, "skipped": 4, "cancelled": 1}


@pytest.mark.django_db
def test_the_recipients_page_says_why_each_waits_or_was_skipped(api_for):
    team = make_team()
    channel = make_channel()
    make_rep_channel(make_rep(team=team), channel, capacity=100)
    manager = make_rep(team=team, role="manager").user
    make_contact(team=team, name="Early Bird", timezone="Europe/Paris", allowed_start=dt.time(9), allowed_end=dt.time(18),
                 lead_score=30)
    make_contact(team=team, name="Never Open", timezone="Europe/Paris", allowed_start=dt.time(22), allowed_end=dt.time(23), lead_score=20)
    capped = [make_contact(team=team, name=f"Now {i}", timezone="UTC", lead_score=10 - i) for i in range(3)]
    campaign = make_campaign(channel, start=wall(2030, 6, 1, 0), end=wall(2030, 6, 1, 20), user=manager, daily_cap=1)
    start(campaign, NOW)
    Contact.objects.filter(pk=capped[2].pk).update(opted_out=True, opt_out_reason="STOP")
    dispatch_due_messages(max_seconds=60, now=NOW, batch=200)

    client = api_for(manager)
    rows = {r["contact_name"]: r for r in client.get(f"/api/campaigns/{campaign.id}/recipients/?limit=10").json()["results"]}
    assert rows["Early Bird"]["state"] == "scheduled"
    assert "outside the contact's hours until 2030-06-01 09:00 Europe/Paris" == rows["Early Bird"]["why"]
    assert rows["Never Open"]["state"] == "skipped" and rows["Never Open"]["why"] == "the campaign window misses the contact's allowed hours"
    assert rows["Now 0"]["message_status"] == "sent"
    assert rows["Now 1"]["why"].startswith("campaign daily cap 1 reached until")
    assert "opted out" in rows["Now 2"]["why"]
    # paging and the state filter
    page = client.get(f"/api/campaigns/{campaign.id}/recipients/?limit=2&offset=2").json()
    assert page["count"] == 5 and len(page["results"]) == 2 and page["previous"] is not None
    assert client.get(f"/api/campaigns/{campaign.id}/recipients/?state=skipped").json()["count"] == 1
    bad = client.get(f"/api/campaigns/{campaign.id}/recipients/?state=nonsense")
    assert bad.status_code == 400 and "nonsense" in bad.json()["state"]
    assert CampaignRecipient.objects.filter(campaign=campaign).count() == 5
