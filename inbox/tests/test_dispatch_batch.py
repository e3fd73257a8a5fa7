"""Batch dispatch (#16 item 7): a fixed set of statements per batch, provider calls in flight
together within their bounds, one bad message never holds the others."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inbox.models import Contact, Message
from inbox.tests.factories import make_channel, make_conversation, make_rep, make_rep_channel
from inbox.tests.fake_provider import FakeProvider
from inbox.tests.test_outbound import dispatch, queue
from salesreps.models import ActivityRecord


def _statements_to_send(reps: int, per_rep: int) -> int:
    channel = make_channel()
    for _ in range(reps):
        rep = make_rep()
        make_rep_channel(rep, channel)
        queue(make_conversation(rep, channel), per_rep)
    with CaptureQueriesContext(connection) as queries:
        dispatch(batch=500)
    assert Message.objects.filter(channel=channel, status="sent").count() == reps * per_rep
    return len(queries.captured_queries)


@pytest.mark.django_db
def test_a_batch_costs_the_same_statements_whatever_its_size():
    small, large = _statements_to_send(5, 2), _statements_to_send(60, 3)
    assert small == large  # 10 messages on 5 rep-channels, 180 on 60: no statement per message
    assert ActivityRecord.objects.count() == 190  # each send reserved once


@pytest.mark.django_db(transaction=True)
def test_provider_calls_are_in_flight_together_within_their_per_rep_channel_bound(settings):
    settings.SEND_PER_REP_CHANNEL, settings.SEND_PER_PROVIDER = 2, 16
    with FakeProvider(delay=0.3) as provider:
        channel = make_channel(internal_url=provider.url)
        conversations = []
        for n in range(4):
            rep = make_rep()
            make_rep_channel(rep, channel, sandbox=False)
            conversations.append(make_conversation(rep, channel, external_id=f"+3361234560{n}"))
            queue(conversations[-1], 4)
        dispatch(batch=100)
    assert Message.objects.filter(status="sent").count() == 16
    assert sorted(provider.requests.values()) == [1] * 16  # each message asked for once
    assert provider.max_in_flight > 2  # several rep-channels at once, not one call after another
    assert max(provider.max_in_flight_to.values()) == 2  # never more than the bound for one rep-channel


@pytest.mark.django_db
def test_a_message_whose_rules_raise_is_left_to_its_lease_and_the_rest_of_the_batch_goes():
    rep, channel = make_rep(), make_channel()
    make_rep_channel(rep, channel)
    good = queue(make_conversation(rep, channel), 3)
    broken = make_conversation(rep, channel)
    # A zone the database should never hold (written around the validation): deciding its quiet hours raises.
    Contact.objects.filter(pk=broken.contact_id).update(timezone="Mars/Olympus_Mons", quiet_start="22:00", quiet_end="07:00")
    [poisoned] = queue(broken)
    dispatch()
    assert set(Message.objects.filter(pk__in=[m.pk for m in good]).values_list("status", flat=True)) == {"sent"}
    poisoned.refresh_from_db()
    assert poisoned.status == "sending" and poisoned.lease_until is not None  # claimed again once the lease ends
    assert not ActivityRecord.objects.filter(message_id=poisoned.id).exists()


@pytest.mark.django_db
def test_a_paced_rep_channel_s_queue_waits_one_gap_per_message_ahead_of_it(settings):
    settings.SEND_MIN_GAP_SECONDS, settings.SEND_JITTER_SECONDS = 20, 0
    rep, channel = make_rep(), make_channel()
    make_rep_channel(rep, channel)
    messages = queue(make_conversation(rep, channel), 5)
    dispatch()
    rows = list(Message.objects.filter(pk__in=[m.pk for m in messages]).order_by("id").values_list("status", "due_at"))
    assert [r[0] for r in rows] == ["sent", "deferred", "deferred", "deferred", "deferred"]
    reserved_at = ActivityRecord.objects.get(message_id=messages[0].pk).performed_at  # the rep-channel's last send
    assert [(r[1] - reserved_at).total_seconds() for r in rows[1:]] == [20, 40, 60, 80]
