"""Outbound dispatch: every rule decides the final state and says why; capacity holds under races."""
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from inbox.models import Conversation, DeliveryAttempt, Message
from inbox.services.outbound import dispatch_due_messages
from inbox.tests.factories import make_channel, make_conversation, make_rep, make_rep_channel, race
from inbox.tests.fake_provider import FakeProvider
from salesreps.models import ActivityRecord


def queue(conversation, n=1, **fields):
    return [Message.objects.create(conversation=conversation, channel=conversation.channel, direction="out",
                                   status="queued", body=fields.pop("body", f"hello {i}"), due_at=timezone.now(), **fields)
            for i in range(n)]


def dispatch(now=None, batch=50):
    return dispatch_due_messages(max_seconds=30, now=now, batch=batch)


def local_window_around_now(tz: str, before_h: int = 1, after_h: int = 2):
    local = timezone.now().astimezone(ZoneInfo(tz))
    start = (local - timedelta(hours=before_h)).time().replace(second=0, microsecond=0)
    end = (local + timedelta(hours=after_h)).time().replace(second=0, microsecond=0)
    return start, end


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_sends_against_remaining_capacity_ten_send_exactly_ten():
    rep = make_rep()
    channel = make_channel()
    start, end = local_window_around_now("Europe/Paris")
    make_rep_channel(rep, channel, start=start, end=end, tz="Europe/Paris", capacity=10)
    conversation = make_conversation(rep, channel)
    queue(conversation, 50)

    _, errors = race(5, lambda: dispatch(batch=3))  # small claims so the five threads really race for the rep-channel
    assert not errors
    assert Message.objects.filter(status="sent").count() == 10
    deferred = Message.objects.filter(status="deferred")
    assert deferred.count() == 40
    assert ActivityRecord.objects.count() == 10
    for message in deferred:
        assert message.defer_code == "activity_cap"
        assert "daily capacity reached" in message.defer_reason and "next shift" in message.defer_reason
        local_due = message.due_at.astimezone(ZoneInfo("Europe/Paris"))
        assert local_due.time().replace(second=0) == start and local_due > timezone.now()


@pytest.mark.django_db
def test_outside_the_shift_the_message_waits_for_the_opening_with_the_reason():
    rep = make_rep()
    channel = make_channel()
    start, end = local_window_around_now("Asia/Tokyo", before_h=-3, after_h=5)  # opens in 3 h
    make_rep_channel(rep, channel, start=start, end=end, tz="Asia/Tokyo")
    [message] = queue(make_conversation(rep, channel))
    dispatch()
    message.refresh_from_db()
    assert message.status == "deferred" and message.defer_code == "outside_shift"
    assert message.defer_reason == f"outside shift until {message.due_at.astimezone(ZoneInfo('Asia/Tokyo')):%Y-%m-%d %H:%M} Asia/Tokyo"
    assert timedelta(hours=2) < message.due_at - timezone.now() <= timedelta(hours=3)


@pytest.mark.django_db
@pytest.mark.parametrize("at_utc, expected", [
    (datetime(2026, 3, 8, 6, 30, tzinfo=UTC), "sent"),        # 01:30 EST, inside 01:00–04:00
    (datetime(2026, 3, 8, 7, 30, tzinfo=UTC), "sent"),        # 03:30 EDT: the gap skipped 02:00–03:00
    (datetime(2026, 3, 8, 8, 30, tzinfo=UTC), "deferred"),    # 04:30 EDT, after the window
    (datetime(2026, 11, 1, 5, 30, tzinfo=UTC), "sent"),       # 01:30 EDT, first pass of the repeated hour
    (datetime(2026, 11, 1, 9, 30, tzinfo=UTC), "deferred"),   # 04:30 EST
])
def test_no_send_outside_the_window_on_dst_days(at_utc, expected):
    rep = make_rep()
    channel = make_channel()
    make_rep_channel(rep, channel, start=time(1, 0), end=time(4, 0), tz="America/New_York")
    [message] = queue(make_conversation(rep, channel))
    Message.objects.filter(pk=message.pk).update(due_at=at_utc)
    dispatch(now=at_utc)
    message.refresh_from_db()
    assert message.status == expected
    if expected == "deferred":
        assert message.due_at.astimezone(ZoneInfo("America/New_York")).time() == time(1, 0)
        assert message.due_at > at_utc


@pytest.mark.django_db
def test_opted_out_contact_is_refused_with_reason():
    rep, channel = make_rep(), make_channel()
    make_rep_channel(rep, channel)
    [message] = queue(make_conversation(rep, channel, opted_out=True, opt_out_reason="keyword"))
    dispatch()
    message.refresh_from_db()
    assert (message.status, message.error_code) == ("failed", "opted_out")
    assert "opted out" in message.error_title
    assert not DeliveryAttempt.objects.exists()


@pytest.mark.django_db
def test_quiet_hours_defer_until_they_end():
    rep, channel = make_rep(), make_channel()
    make_rep_channel(rep, channel)
    local = timezone.now().astimezone(ZoneInfo("America/Los_Angeles"))
    quiet_start = (local - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    quiet_end = (local + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    [message] = queue(make_conversation(rep, channel, timezone="America/Los_Angeles",
                                        quiet_start=quiet_start, quiet_end=quiet_end))
    dispatch()
    message.refresh_from_db()
    assert (message.status, message.defer_code) == ("deferred", "quiet_hours")
    assert message.due_at.astimezone(ZoneInfo("America/Los_Angeles")).time() == quiet_end
    assert f"until {quiet_end:%H:%M} America/Los_Angeles" in message.defer_reason


@pytest.mark.django_db
def test_whatsapp_free_text_after_24_hours_is_refused_but_a_template_goes():
    from inbox.models import Template

    rep, channel = make_rep(), make_channel("whatsapp")
    make_rep_channel(rep, channel)
    conversation = make_conversation(rep, channel, last_inbound_at=timezone.now() - timedelta(hours=25))
    template = Template.objects.create(name="follow_up", body="Hi {name}", whatsapp_name="follow_up")
    [text] = queue(conversation)
    [templated] = queue(conversation, template=template, body="Hi Ada")
    dispatch()
    text.refresh_from_db()
    templated.refresh_from_db()
    assert (text.status, text.error_code) == ("failed", "whatsapp_24h_window")
    assert "24-hour window" in text.error_title
    assert templated.status == "sent"


@pytest.mark.django_db
def test_channel_hourly_rate_limit_defers_with_the_binding_limit():
    rep, channel = make_rep(), make_channel(rate_limit_per_hour=3)
    make_rep_channel(rep, channel)
    messages = queue(make_conversation(rep, channel), 5)
    dispatch()
    states = sorted(Message.objects.filter(pk__in=[m.pk for m in messages]).values_list("status", flat=True))
    assert states == ["deferred", "deferred", "sent", "sent", "sent"]
    for message in Message.objects.filter(status="deferred"):
        assert message.defer_code == "channel_hourly"
        assert "3/hour" in message.defer_reason
        assert timedelta(minutes=59) < message.due_at - timezone.now() <= timedelta(hours=1)


@pytest.mark.django_db
def test_sandbox_runs_the_rules_and_records_a_sandbox_attempt_without_network():
    rep = make_rep()
    channel = make_channel(internal_url="http://127.0.0.1:9")  # nothing listens: a network call would fail
    make_rep_channel(rep, channel, sandbox=True)
    [message] = queue(make_conversation(rep, channel))
    dispatch()
    message.refresh_from_db()
    attempt = message.attempts_log.get()
    assert message.status == "sent" and message.external_id.startswith("sandbox-")
    assert attempt.sandbox and attempt.ok
    assert ActivityRecord.objects.filter(message_id=message.id).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("status, final, attempts", [(400, "failed", 1), (500, "queued", 1), (429, "queued", 1)])
def test_provider_answers_map_to_fail_or_retry(status, final, attempts):
    with FakeProvider(status=status, error={"code": "E42", "message": "bad number"}) as provider:
        rep, channel = make_rep(), make_channel(internal_url=provider.url)
        make_rep_channel(rep, channel, sandbox=False)
        [message] = queue(make_conversation(rep, channel))
        dispatch()
    message.refresh_from_db()
    assert message.status == final
    assert message.attempts_log.count() == attempts
    if final == "failed":
        assert (message.error_code, message.error_title) == ("E42", "bad number")
        assert ActivityRecord.objects.count() == 0  # a refused send gives its capacity back
    else:
        assert message.defer_code == "provider_retry" and message.due_at > timezone.now()


@pytest.mark.django_db
def test_failed_message_retried_by_hand_calls_the_provider_again():
    from inbox.services.outbound import message_retry

    with FakeProvider(status=400) as provider:
        rep, channel = make_rep(), make_channel(internal_url=provider.url)
        make_rep_channel(rep, channel, sandbox=False)
        [message] = queue(make_conversation(rep, channel))
        dispatch()
        message.refresh_from_db()
        assert message.status == "failed"
        provider.status = 200
        message_retry(user=rep.user, message_id=message.id)
        dispatch()
    message.refresh_from_db()
    assert message.status == "sent"
    assert sum(provider.requests.values()) == 2


@pytest.mark.django_db(transaction=True)
def test_ten_reps_racing_a_channel_limit_of_twenty_an_hour_send_exactly_twenty():
    channel = make_channel(rate_limit_per_hour=20)
    for _ in range(10):
        rep = make_rep()
        make_rep_channel(rep, channel)
        queue(make_conversation(rep, channel), 5)
    _, errors = race(10, lambda: dispatch(batch=2))  # small claims: the ten workers interleave on the one channel
    assert not errors
    assert Message.objects.filter(status="sent").count() == 20
    assert ActivityRecord.objects.filter(rep_channel_activity__rep_channel__channel=channel).count() == 20
    assert set(Message.objects.exclude(status="sent").values_list("status", "defer_code")) == {("deferred", "channel_hourly")}


@pytest.mark.django_db
def test_a_rep_answering_a_live_chat_is_not_paced_like_outreach(settings):
    settings.SEND_MIN_GAP_SECONDS, settings.SEND_JITTER_SECONDS, settings.REPLY_GAP_SECONDS = 20, 10, 0
    rep, channel = make_rep(), make_channel()
    make_rep_channel(rep, channel)
    live = make_conversation(rep, channel)
    Conversation.objects.filter(pk=live.pk).update(last_inbound_at=timezone.now() - timedelta(minutes=3))
    replies = queue(live, 3)
    dispatch()
    assert set(Message.objects.filter(pk__in=[m.pk for m in replies]).values_list("status", flat=True)) == {"sent"}

    cold = make_conversation(rep, channel)  # never wrote: outreach, paced
    outreach = queue(cold, 2)
    dispatch()
    states = sorted(Message.objects.filter(pk__in=[m.pk for m in outreach]).values_list("status", "defer_code"))
    assert states == [("deferred", "pacing"), ("deferred", "pacing")]  # 20 s after the last reply
    assert all("pacing between outreach sends" in m.defer_reason for m in Message.objects.filter(pk__in=[m.pk for m in outreach]))
