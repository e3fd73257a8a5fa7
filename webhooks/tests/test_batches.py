"""Stored webhook events processed set-based, in batches: real-shaped WhatsApp payloads stored as
the endpoint stores them, then processed by the pipeline the worker runs."""
import copy
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import UserEvent
from inbox.models import Contact, Conversation, Message
from inbox.services import messages
from inbox.tests.factories import make_conversation, make_rep, make_rep_channel, race
from platforms.base import RawRequest
from salesreps.models import Team
from webhooks import pipeline
from webhooks.models import WebhookEvent
from webhooks.tests.signing import load
from webhooks.tests.test_webhooks import channels_for, parsed

PHONE_ID = "106540352242922"  # the fixtures' phone_number_id: the channel's routing key


def _text(wa_id: str, message_id: str, text: str, ts: int) -> bytes:
    payload = json.loads(load("whatsapp", "text__basic"))
    value = payload["entry"][0]["changes"][0]["value"]
    value["contacts"][0].update(wa_id=wa_id, profile={"name": f"Person {wa_id}"})
    value["messages"][0].update({"from": wa_id, "id": message_id, "timestamp": str(ts), "text": {"body": text}})
    return json.dumps(payload).encode()


def _status(message_id: str, status: str, wa_id: str, ts: int) -> bytes:
    payload = json.loads(load("whatsapp", "status__delivered"))
    entry = copy.deepcopy(payload["entry"][0]["changes"][0]["value"]["statuses"][0])
    entry.update(id=message_id, status=status, recipient_id=wa_id, timestamp=str(ts))
    payload["entry"][0]["changes"][0]["value"]["statuses"] = [entry]
    return json.dumps(payload).encode()


def store(body: bytes, key: str) -> int:
    """What the endpoint does once the signature holds: the raw row, committed, not processed."""
    request = RawRequest(body=body, headers={"content-type": "application/json"}, url="", content_type="application/json")
    return pipeline.event_store(platform="whatsapp", request=request, dedup_key=key)


@pytest.fixture
def channel():
    return channels_for("whatsapp", parsed("whatsapp", load("whatsapp", "text__basic")))[PHONE_ID]


def _first_messages(count: int, ts: int = 1760000000) -> list[str]:
    """`count` people write for the first time (the one-by-one path): they become known."""
    wa_ids = [f"3519100{n:05d}" for n in range(count)]
    for n, wa_id in enumerate(wa_ids):
        store(_text(wa_id, f"wamid.first-{n}", "hello", ts), f"first-{n}")
    pipeline.events_process_pending()
    assert Contact.objects.count() == count and Conversation.objects.count() == count
    return wa_ids


def _batch_queries(wa_ids: list[str], round_: int) -> int:
    for n, wa_id in enumerate(wa_ids):
        store(_text(wa_id, f"wamid.r{round_}-{n}", f"reply {round_}", 1760000100 + round_), f"r{round_}-{n}")
    with CaptureQueriesContext(connection) as queries:
        assert pipeline.events_process_batch() == len(wa_ids)
    return len(queries)


@pytest.mark.django_db(transaction=True)
def test_a_batch_of_known_people_costs_the_same_statements_at_any_size(channel):
    wa_ids = _first_messages(60)
    small = _batch_queries(wa_ids[:5], 1)
    large = _batch_queries(wa_ids, 2)
    # Per event it was ~19 statements; per batch it is a fixed handful, relay included.
    assert large == small, (small, large)
    assert large < 30
    assert set(Conversation.objects.values_list("unread_count", flat=True)) == {2, 3}
    assert Message.objects.filter(direction="in").count() == 60 + 5 + 60
    assert WebhookEvent.objects.exclude(state="processed").count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_batch_keeps_every_per_event_guarantee(channel):
    team = Team.objects.create(name="Lisbon")
    rep = make_rep("ana", team=team)
    manager = make_rep("maria", team=team, role="manager")
    other_manager = make_rep("otto", team=Team.objects.create(name="Porto"), role="manager")
    make_rep_channel(rep, channel)
    conversation = make_conversation(rep, channel, external_id="351911111111")
    Conversation.objects.filter(pk=conversation.pk).update(status="resolved")
    reopened = make_conversation(rep, channel, contact=conversation.contact)  # the resolved one stays closed
    out = Message.objects.create(conversation=reopened, channel=channel, direction="out", status="sent",
                                 external_id="wamid.out-1", sent_at=reopened.created_at)
    Conversation.objects.filter(pk=reopened.pk).update(status="snoozed")
    ids = ["wamid.a", "wamid.b", "wamid.c"]
    for n, message_id in enumerate(ids):
        store(_text("351911111111", message_id, f"m{n}", 1760000000 + n), f"in-{n}")
    store(_text("351911111111", "wamid.b", "m1", 1760000001) + b" ", "in-1-redelivered")  # same message, new body
    for n, status in enumerate(["read", "sent", "delivered"]):  # out of order
        store(_status("wamid.out-1", status, "351911111111", 1760000010 - n), f"st-{n}")
    assert pipeline.events_process_batch() == 7

    reopened.refresh_from_db()
    assert Message.objects.filter(direction="in").count() == 3
    assert (reopened.unread_count, reopened.status, reopened.last_message_preview) == (3, "open", "m2")
    out.refresh_from_db()
    assert out.status == "read" and sorted(out.events.values_list("status", flat=True)) == ["delivered", "read", "sent"]
    assert Conversation.objects.get(pk=conversation.pk).status == "resolved"
    for user in (rep.user, manager.user):
        frames = list(UserEvent.objects.filter(user=user).order_by("seq").values_list("seq", "name"))
        assert [name for _, name in frames] == ["message.created"] * 3 + ["conversation.updated", "message.updated"]
        assert [seq for seq, _ in frames] == list(range(frames[0][0], frames[0][0] + 5))
    assert not UserEvent.objects.filter(user=other_manager.user).exists()
    assert Contact.objects.get().last_inbound_at.timestamp() == 1760000002


@pytest.mark.django_db(transaction=True)
def test_one_poisoned_event_is_kept_with_its_error_and_blocks_no_other(channel, monkeypatch):
    wa_ids = _first_messages(5)
    real = messages.inbound_message

    def poisoned(*, event, **kwargs):
        if event.external_id == "wamid.poison":
            raise ValueError("cannot store this one")
        return real(event=event, **kwargs)

    monkeypatch.setattr(messages, "inbound_message", poisoned)
    for n, wa_id in enumerate(wa_ids):
        store(_text(wa_id, "wamid.poison" if n == 2 else f"wamid.ok-{n}", "again", 1760000500), f"again-{n}")
    assert pipeline.events_process_pending() == 5
    assert Message.objects.filter(external_id__startswith="wamid.ok-").count() == 4
    bad = WebhookEvent.objects.get(dedup_key="again-2")
    assert (bad.state, bad.attempts) == ("received", 1) and "cannot store this one" in bad.error
    assert pipeline.events_process_batch() == 0  # the next batches leave it to the sweep
    monkeypatch.undo()
    WebhookEvent.objects.filter(pk=bad.pk).update(received_at=bad.received_at.replace(year=2020))
    assert pipeline.events_sweep() == 1
    assert Message.objects.filter(external_id="wamid.poison").count() == 1


@pytest.mark.django_db(transaction=True)
def test_racing_batches_split_the_work_and_keep_unread_counts_exact(channel):
    wa_ids = _first_messages(10)
    for round_ in range(20):
        for n, wa_id in enumerate(wa_ids):
            store(_text(wa_id, f"wamid.race-{round_}-{n}", "x", 1760001000 + round_), f"race-{round_}-{n}")
    claimed, errors = race(4, lambda: pipeline.events_process_pending(limit=25))
    assert not errors and sum(claimed) == 200
    assert list(Conversation.objects.values_list("unread_count", flat=True).distinct()) == [21]
    assert Message.objects.filter(external_id__startswith="wamid.race-").count() == 200
    assert WebhookEvent.objects.filter(state="processed").count() == 210
