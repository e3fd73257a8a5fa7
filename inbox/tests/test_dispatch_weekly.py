"""Dispatch against a rep's weekly schedule (#18 item 1), driven through the API: a message composed on
a Saturday waits for Monday 09:00 in Lisbon and says so, a team holiday is skipped, and a capacity
lowered below today's use is answered with a warning and refuses the next send."""
from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from inbox.models import Message
from inbox.services.outbound import dispatch_due_messages
from inbox.tests.factories import make_channel, make_conversation, make_rep, make_rep_channel, make_team, make_user
from salesreps.models import ActivityRecord
from salesreps.rules import public_holidays

LISBON = ZoneInfo("Europe/Lisbon")
# Monday–Friday 09:00–13:00 and 14:00–18:00, Thursday also 22:00–06:00; weekends off.
WEEK = [{"weekday": d, "start": s, "end": e} for d in range(5) for s, e in (("09:00", "13:00"), ("14:00", "18:00"))] + [
    {"weekday": 3, "start": "22:00", "end": "06:00"}]


def send_json(client, method: str, path: str, body: dict):
    return getattr(client, method)(path, data=json.dumps(body), content_type="application/json")


def dispatch(now: datetime | None = None) -> int:
    return dispatch_due_messages(max_seconds=30, batch=50, now=now)


def local_today() -> date:
    return timezone.now().astimezone(LISBON).date()


def next_weekday(weekday: int, after: date) -> date:
    day = after + timedelta(days=1)
    while day.weekday() != weekday:
        day += timedelta(days=1)
    return day


@pytest.fixture
def lisbon(db, fast_passwords, client_for):
    """A rep in Lisbon on a service channel (sandbox), their manager, and the schedule PUT by the manager."""
    team = make_team()
    rep, manager = make_rep(team=team), make_rep(team=team, role="manager")
    channel = make_channel()
    rep_channel = make_rep_channel(rep, channel, tz="")  # the rep's zone
    response = send_json(client_for(manager.user), "put", f"/api/reps/{rep.id}/schedule/",
                         {"timezone": "Europe/Lisbon", "week": WEEK, "time_off": []})
    assert response.status_code == 200, response.content
    return rep, manager, channel, rep_channel


def compose(client_for, rep, conversation, text: str = "Olá!") -> Message:
    response = send_json(client_for(rep.user), "post", f"/api/conversations/{conversation.id}/messages/", {"text": text})
    assert response.status_code == 201, response.content
    return Message.objects.get(pk=response.json()["id"])


def test_a_message_composed_on_saturday_waits_for_monday_nine_in_lisbon(lisbon, client_for):
    rep, _, channel, _ = lisbon
    saturday = next_weekday(5, local_today())
    monday = saturday + timedelta(days=2)
    monday_nine = datetime.combine(monday, time(9), LISBON)
    message = compose(client_for, rep, make_conversation(rep, channel))

    dispatch(now=datetime.combine(saturday, time(11), LISBON))
    message.refresh_from_db()
    assert (message.status, message.defer_code) == ("deferred", "outside_shift")
    assert message.due_at == monday_nine and monday.strftime("%A") == "Monday"
    assert message.defer_reason == f"outside shift until {monday:%Y-%m-%d} 09:00 Europe/Lisbon"
    assert not ActivityRecord.objects.filter(message_id=message.id).exists()

    dispatch(now=monday_nine - timedelta(seconds=1))  # not due yet: nobody claims it
    message.refresh_from_db()
    assert message.status == "deferred"

    dispatch(now=monday_nine)
    message.refresh_from_db()
    assert message.status == "sent"
    assert ActivityRecord.objects.get(message_id=message.id).shift_day == monday


def test_a_team_holiday_is_skipped_to_the_next_working_day(lisbon, client_for):
    rep, _, channel, _ = lisbon
    admin = client_for(make_user(superuser=True))
    assert admin.post(f"/admin/salesreps/team/{rep.team_id}/change/",
                      {"name": rep.team.name, "holiday_country": "PT"}).status_code == 302
    start = local_today() + timedelta(days=2)
    holidays = public_holidays(country="PT", first=start, last=start + timedelta(days=370))
    holiday = min(day for day in holidays if day.weekday() < 5)
    after = holiday + timedelta(days=1)
    while after.weekday() >= 5 or after in holidays:
        after += timedelta(days=1)
    message = compose(client_for, rep, make_conversation(rep, channel))

    dispatch(now=datetime.combine(holiday, time(10), LISBON))
    message.refresh_from_db()
    assert (message.status, message.defer_code) == ("deferred", "outside_shift")
    assert message.due_at == datetime.combine(after, time(9), LISBON)
    assert f"{after:%Y-%m-%d} 09:00 Europe/Lisbon" in message.defer_reason


def test_a_capacity_lowered_below_todays_use_warns_and_refuses_the_next_send(db, fast_passwords, client_for):
    team = make_team()
    rep, manager = make_rep(team=team), make_rep(team=team, role="manager")
    channel = make_channel()
    rep_channel = make_rep_channel(rep, channel, capacity=5)  # 00:00–23:59:59 UTC, no weekly windows
    conversation = make_conversation(rep, channel)
    sent = [compose(client_for, rep, conversation, f"hello {n}") for n in range(5)]
    dispatch()
    assert set(Message.objects.filter(pk__in=[m.pk for m in sent]).values_list("status", flat=True)) == {"sent"}

    path = f"/api/reps/{rep.id}/channels/{rep_channel.id}/"
    response = send_json(client_for(manager.user), "patch", path, {"max_daily_capacity": 3})
    assert response.status_code == 200, response.content
    assert response.json()["warnings"] == ["max_daily_capacity 3 is below today's use 5: no more sends today"]
    response = send_json(client_for(manager.user), "patch", path, {"activities": [{"activity": "message", "max_capacity": 2}]})
    assert response.json()["warnings"] == ["message max_capacity 2 is below today's use 5: no more sends today"]
    unchanged = send_json(client_for(manager.user), "patch", path, {"activities": [{"activity": "message", "max_capacity": 50}]})
    assert unchanged.json()["warnings"] == []
    send_json(client_for(manager.user), "patch", path, {"activities": [{"activity": "message", "max_capacity": None}]})

    refused = compose(client_for, rep, conversation, "one more")
    dispatch()
    refused.refresh_from_db()
    assert (refused.status, refused.defer_code) == ("deferred", "activity_cap")
    assert "daily capacity reached (3)" in refused.defer_reason
    assert refused.due_at > timezone.now()
    assert ActivityRecord.objects.filter(rep_channel_activity__rep_channel=rep_channel).count() == 5  # nothing undone
