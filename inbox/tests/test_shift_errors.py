"""Shift errors kept by the flows that meet them (#18 item 2), and a warm-up that counts only days
on which something was performed (item 4). Messages are composed on the API and dispatched by the
real dispatcher; the rep and their manager read the day on the API."""
from __future__ import annotations

from datetime import time

import pytest

from inbox.models import Message
from inbox.tests.factories import make_channel, make_conversation, make_rep, make_rep_channel, make_team
from inbox.tests.fake_provider import FakeProvider
from inbox.tests.test_activities import zone_where_it_is
from inbox.tests.test_outbound import dispatch
from salesreps.models import ActivityRecord, DailyAllowance, ShiftError

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(client_for, fast_passwords):
    team = make_team()
    rep = make_rep("rita", team=team)
    manager = make_rep("mark", team=team, role="manager")
    return {"team": team, "rep": rep, "client": client_for(rep.user), "manager": client_for(manager.user), "client_for": client_for}


def compose(desk, conversation, text="Hello") -> Message:
    answer = desk["client"].post(f"/api/conversations/{conversation.id}/messages/", {"text": text}, content_type="application/json")
    assert answer.status_code == 201, answer.content
    return Message.objects.get(pk=answer.json()["id"])


def errors_of(client, rep) -> list[tuple]:
    answer = client.get(f"/api/reps/{rep.id}/today/")
    assert answer.status_code == 200, answer.content
    return [(e["code"], e["level"], e["count"]) for e in answer.json()["errors"]]


def test_a_send_refused_because_the_shift_closed_is_a_warning_counted_per_refusal(desk):
    rep, channel = desk["rep"], make_channel()
    make_rep_channel(rep, channel, start=time(8), end=time(9), tz=zone_where_it_is(12))
    conversation = make_conversation(rep, channel)
    first, second = compose(desk, conversation), compose(desk, conversation, "Still there?")
    dispatch()
    for message in (first, second):
        message.refresh_from_db()
        assert (message.status, message.defer_code) == ("deferred", "outside_shift")
    assert errors_of(desk["client"], rep) == [("outside_shift", 1, 2)]
    assert errors_of(desk["manager"], rep) == [("outside_shift", 1, 2)]  # the manager sees their team's day
    outsider = desk["client_for"](make_rep("olga", team=make_team(), role="manager").user)
    assert outsider.get(f"/api/reps/{rep.id}/today/").status_code == 404
    error = ShiftError.objects.get(code="outside_shift")
    assert "outside shift until" in error.message and error.shift_id is None  # nothing performed: no shift materialized


def test_capacity_hit_is_a_warning_and_the_sent_one_is_recorded_against_the_day_s_shift(desk):
    rep, channel = desk["rep"], make_channel()
    make_rep_channel(rep, channel, capacity=1)
    conversation = make_conversation(rep, channel)
    sent, held = compose(desk, conversation), compose(desk, conversation, "two")
    dispatch()
    sent.refresh_from_db(), held.refresh_from_db()
    assert (sent.status, held.status, held.defer_code) == ("sent", "deferred", "activity_cap")
    assert errors_of(desk["client"], rep) == [("activity_cap", 1, 1)]
    today = desk["client"].get(f"/api/reps/{rep.id}/today/").json()
    assert [(s["planned"], s["records"]) for s in today["shifts"]] == [(False, {"message": 1})]
    assert ActivityRecord.objects.get(message_id=sent.id).shift_id == today["shifts"][0]["id"]


def test_a_channel_service_that_fails_is_an_error_and_its_day_is_no_warmup_day(desk):
    with FakeProvider(status=400, error={"code": "bad_number", "message": "not a reachable number"}) as provider:
        rep, channel = desk["rep"], make_channel(internal_url=provider.url)
        rep_channel = make_rep_channel(rep, channel, sandbox=False, warmup_start=3, warmup_step=2)
        message = compose(desk, make_conversation(rep, channel, external_id="u-1"))
        dispatch()
        message.refresh_from_db()
        assert (message.status, message.error_code) == ("failed", "bad_number")
        assert errors_of(desk["client"], rep) == [("service_failed", 2, 1)]
        assert "bad_number" in ShiftError.objects.get(code="service_failed").message
        assert not ActivityRecord.objects.filter(message_id=message.id).exists()
        assert not DailyAllowance.objects.filter(rep_channel=rep_channel).exists()


def test_provider_trouble_that_will_be_retried_is_a_warning(desk):
    with FakeProvider(status=503) as provider:
        rep, channel = desk["rep"], make_channel(internal_url=provider.url)
        make_rep_channel(rep, channel, sandbox=False)
        message = compose(desk, make_conversation(rep, channel, external_id="u-2"))
        dispatch()
        message.refresh_from_db()
        assert (message.status, message.defer_code) == ("queued", "provider_retry")
        assert errors_of(desk["client"], rep) == [("service_retry", 1, 1)]


def test_a_rep_unavailable_during_their_shift_is_a_warning_but_not_outside_it(desk):
    rep = desk["rep"]
    open_channel, closed_channel = make_channel(), make_channel()
    make_rep_channel(rep, open_channel)
    make_rep_channel(rep, closed_channel, start=time(8), end=time(9), tz=zone_where_it_is(12))
    assert desk["client"].patch("/api/reps/me/", {"is_available": False}, content_type="application/json").status_code == 200
    during, outside = compose(desk, make_conversation(rep, open_channel)), compose(desk, make_conversation(rep, closed_channel))
    dispatch()
    during.refresh_from_db(), outside.refresh_from_db()
    assert (during.defer_code, outside.defer_code) == ("unavailable", "unavailable")
    assert errors_of(desk["client"], rep) == [("unavailable", 1, 1)]
    assert ShiftError.objects.get(code="unavailable").rep_channel.channel == open_channel


def test_a_rep_channel_whose_message_activity_is_switched_off_cannot_send(desk):
    rep, channel = desk["rep"], make_channel()
    rep_channel = make_rep_channel(rep, channel)
    switched = desk["manager"].patch(f"/api/reps/{rep.id}/channels/{rep_channel.id}/",
                                     {"activities": [{"activity": "message", "max_capacity": 0}]}, content_type="application/json")
    assert switched.status_code == 200, switched.content
    message = compose(desk, make_conversation(rep, channel))
    dispatch()
    message.refresh_from_db()
    assert (message.status, message.defer_code) == ("deferred", "activity_off")
    assert errors_of(desk["client"], rep) == [("activity_off", 2, 1)]
    assert not ActivityRecord.objects.exists()


def test_a_day_whose_every_send_was_refused_does_not_advance_the_warm_up(desk):
    """The channel's daily limit is taken by one rep: another rep's refused send must not make the
    day an active warm-up day for them (it used to: the allowance was stored by the check)."""
    channel = make_channel(rate_limit_per_day=1)
    first, second = desk["rep"], make_rep("sam", team=desk["team"])
    rc_first = make_rep_channel(first, channel, warmup_start=1, warmup_step=1)
    rc_second = make_rep_channel(second, channel, warmup_start=1, warmup_step=1)
    sent = compose(desk, make_conversation(first, channel))
    dispatch()
    other = desk["client_for"](second.user).post(f"/api/conversations/{make_conversation(second, channel).id}/messages/",
                                                  {"text": "hi"}, content_type="application/json").json()
    dispatch()
    assert Message.objects.get(pk=sent.id).status == "sent"
    assert Message.objects.get(pk=other["id"]).defer_code == "channel_daily"
    assert list(DailyAllowance.objects.filter(rep_channel=rc_first).values_list("allowance", flat=True)) == [1]
    assert not DailyAllowance.objects.filter(rep_channel=rc_second).exists()
