"""What an inbound message keeps from its platform, through the webhook endpoint to the rep's API:
the time the person sent it (a late delivery keeps its real day) and a document's file name."""
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from inbox.models import Message
from inbox.tests.factories import make_channel, make_rep, make_rep_channel
from webhooks import pipeline
from webhooks.tests.signing import SECRET, load, signed

PNID = "106540352242922"  # the fixtures' phone_number_id
WA_ID = "16505551234"


@pytest.fixture
def rep_client(client):
    rep = make_rep("alice")
    channel = make_channel("whatsapp", name="WhatsApp Sales", routing_key=PNID, secrets={"app_secret": SECRET})
    make_rep_channel(rep, channel)
    client.force_login(rep.user)
    return client


def deliver(client, fixture: str, *, message_id: str, at: datetime, **content) -> Message:
    """The fixture as Meta posts it, with its message's id, timestamp and content replaced."""
    payload = json.loads(load("whatsapp", fixture))
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    message.update({"id": message_id, "timestamp": str(int(at.timestamp())), **content})
    body, content_type, headers = signed("whatsapp", json.dumps(payload).encode())
    response = client.post("/webhooks/whatsapp/", data=body, content_type=content_type, **headers)
    assert response.status_code == 200, response.content
    pipeline.drain()
    return Message.objects.get(external_id=message_id)


def api_message(client, message: Message) -> dict:
    page = client.get(f"/api/conversations/{message.conversation_id}/messages/").json()
    [found] = [m for m in page["results"] if m["id"] == message.id]
    return found


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


@pytest.mark.django_db(transaction=True)
def test_a_message_delivered_a_day_late_keeps_the_time_it_was_sent(rep_client):
    now = timezone.now().replace(microsecond=0)
    today = deliver(rep_client, "text__basic", message_id="wamid.today", at=now - timedelta(minutes=5))
    # the person's phone was offline: yesterday's message reaches us after today's (known contact: the batch path)
    late = deliver(rep_client, "text__basic", message_id="wamid.yesterday", at=now - timedelta(days=1),
                   text={"body": "Sent yesterday evening"})
    assert late.conversation_id == today.conversation_id
    assert late.sent_at == now - timedelta(days=1) and late.created_at >= now - timedelta(seconds=1)
    shown = api_message(rep_client, late)
    assert parse_iso(shown["sent_at"]) == now - timedelta(days=1)
    assert parse_iso(shown["created_at"]) >= now - timedelta(seconds=1)  # stored today
    assert parse_iso(api_message(rep_client, today)["sent_at"]) == now - timedelta(minutes=5)
    # the list's time does not move back to the late one
    conversation = rep_client.get(f"/api/conversations/{late.conversation_id}/").json()
    assert parse_iso(conversation["last_message_at"]) == now - timedelta(minutes=5)


@pytest.mark.django_db(transaction=True)
def test_a_first_message_from_someone_keeps_its_platform_time(rep_client):
    at = timezone.now().replace(microsecond=0) - timedelta(days=1, hours=2)
    first = deliver(rep_client, "text__basic", message_id="wamid.first", at=at)  # a new contact: the one-by-one path
    assert parse_iso(api_message(rep_client, first)["sent_at"]) == at


@pytest.mark.django_db(transaction=True)
def test_a_platform_clock_ahead_of_ours_is_clamped_to_when_we_stored_it(rep_client):
    ahead = deliver(rep_client, "text__basic", message_id="wamid.ahead", at=timezone.now() + timedelta(hours=3))
    assert ahead.sent_at <= ahead.created_at + timedelta(seconds=1)


@pytest.mark.django_db(transaction=True)
def test_a_documents_file_name_is_kept_and_shown_in_the_payload(rep_client):
    now = timezone.now()
    first = deliver(rep_client, "document__filename", message_id="wamid.doc1", at=now)  # new contact: one by one
    second = deliver(rep_client, "document__filename", message_id="wamid.doc2", at=now,  # known contact: in a batch
                     document={"id": "77", "mime_type": "application/vnd.ms-excel", "filename": "price list.xls"})
    assert (first.media_type, first.media_filename, first.body) == ("document", "PO-2025-0117.pdf", "Our purchase order")
    assert second.media_filename == "price list.xls" and second.body == ""
    shown = api_message(rep_client, first)
    assert (shown["media_type"], shown["media_filename"]) == ("document", "PO-2025-0117.pdf")
    assert api_message(rep_client, second)["media_filename"] == "price list.xls"
    timeline = rep_client.get(f"/api/contacts/{first.conversation.contact_id}/timeline/").json()["results"]
    assert {m["media_filename"] for m in timeline} == {"PO-2025-0117.pdf", "price list.xls"}
