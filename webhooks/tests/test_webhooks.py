"""The unified webhook, end to end: signed fixtures become contacts, conversations, messages, statuses."""
import itertools
import json

import pytest
from django.db import connection
from django.utils import timezone

from inbox.models import Contact, ContactIdentity, Message
from inbox.tests.factories import make_channel, make_conversation, make_rep, make_rep_channel
from platforms import get_adapter
from platforms.base import InboundMessage, OptOut, RawRequest, StatusUpdate, Watermark
from webhooks import pipeline
from webhooks.models import WebhookEvent
from webhooks.tests.signing import SECRET, URL, fixture_names, load, signed

PLATFORMS = ["whatsapp", "messenger", "instagram", "sms", "email", "service"]
CASES = [(p, n) for p in PLATFORMS for n in fixture_names(p)]


def post(client, platform, payload, **extra):
    body, content_type, headers = signed(platform, payload)
    return client.post(f"/webhooks/{platform}/", data=body, content_type=content_type, **headers, **extra)


def parsed(platform, payload):
    body, content_type, headers = signed(platform, payload)
    lowered = {k[5:].replace("_", "-").lower(): v for k, v in headers.items()}
    return get_adapter(platform).parse(request=RawRequest(body=body, headers={**lowered, "content-type": content_type},
                                                          url=URL.format(platform=platform), content_type=content_type))


def channels_for(platform, events):
    keys = {e.channel_key for e in events if hasattr(e, "channel_key")} or {"svc"}
    rep = make_rep()
    made = {}
    for key in keys:
        channel = make_channel(platform, name="svc" if platform == "service" else f"{platform}-{key}", routing_key=key,
                               secrets={"app_secret": SECRET, "auth_token": SECRET, "signing_key": SECRET, "secret": SECRET})
        make_rep_channel(rep, channel)
        made[key.lower()] = channel
    return made


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("platform, name", CASES, ids=[f"{p}-{n}" for p, n in CASES])
def test_fixture_flows_end_to_end(client, platform, name):
    payload = load(platform, name)
    events = parsed(platform, payload)
    channels = channels_for(platform, events)
    # Statuses and watermarks are about our outbound messages: give them something to move.
    conversations = {}
    for event in events:
        if isinstance(event, StatusUpdate | Watermark):
            channel = channels[event.channel_key.lower()]
            contact_key = (channel.id, event.contact_id or f"c-{event.channel_key}")
            if contact_key not in conversations:
                conversations[contact_key] = make_conversation(channel.rep_channels.first().rep, channel,
                                                               external_id=contact_key[1])
            conversation = conversations[contact_key]
            Message.objects.create(conversation=conversation, channel=channel, direction="out", status="sent",
                                   external_id=getattr(event, "external_id", "") or f"w-{conversation.id}",
                                   sent_at=timezone.now() - timezone.timedelta(days=3650))
    response = post(client, platform, payload)
    assert response.status_code == 200, response.content
    pipeline.drain()
    stored = WebhookEvent.objects.get()
    assert stored.state in ("processed", "ignored") and stored.error == ""
    for event in events:
        channel = channels.get(getattr(event, "channel_key", "").lower())
        if isinstance(event, InboundMessage):
            message = Message.objects.get(channel=channel, external_id=event.external_id)
            assert message.direction == ("out" if event.is_echo else "in")
            assert ContactIdentity.objects.filter(channel=channel, external_id=event.contact_id,
                                                  contact=message.conversation.contact).exists()
            if event.contact_phone:
                assert message.conversation.contact.phone == event.contact_phone
        elif isinstance(event, StatusUpdate):
            message = Message.objects.get(channel=channel, external_id=event.external_id)
            assert message.status == event.status
            if event.status == "failed":
                assert message.error_code == event.error_code
        elif isinstance(event, Watermark):
            assert Message.objects.filter(channel=channel, status=event.status).exists()
        elif isinstance(event, OptOut):
            identity = ContactIdentity.objects.get(channel=channel, external_id=event.contact_id)
            assert identity.contact.opted_out and identity.contact.opt_out_reason == event.reason


@pytest.mark.django_db(transaction=True)
def test_every_entry_change_and_message_of_a_batch_is_processed(client):
    payload = load("whatsapp", "batch__multiple_entries")
    inbound = [e for e in parsed("whatsapp", payload) if isinstance(e, InboundMessage)]
    channels_for("whatsapp", parsed("whatsapp", payload))
    assert post(client, "whatsapp", payload).status_code == 200
    pipeline.drain()
    assert len(inbound) >= 2
    assert Message.objects.filter(direction="in").count() == len(inbound)


STATUS_ORDERS = list(itertools.permutations(["sent", "delivered", "read"]))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("order", STATUS_ORDERS, ids=["-".join(o) for o in STATUS_ORDERS])
def test_statuses_in_any_order_end_at_the_highest(client, order):
    rep, channel = make_rep(), make_channel("service", name="svc", routing_key="svc", secrets={"secret": SECRET})
    make_rep_channel(rep, channel)
    conversation = make_conversation(rep, channel, external_id="u-1")
    message = Message.objects.create(conversation=conversation, channel=channel, direction="out", status="sent",
                                     external_id="prov-1", sent_at=timezone.now())
    for i, status in enumerate(order):
        body = json.dumps({"events": [{"id": f"e{i}", "type": "status", "timestamp": 1760000000 + i,
                                       "message_id": "prov-1", "status": status, "contact_id": "u-1"}]}).encode()
        assert post(client, "service", body).status_code == 200
        pipeline.drain()
    message.refresh_from_db()
    assert message.status == "read"
    assert sorted(message.events.values_list("status", flat=True)) == sorted(order)


@pytest.mark.django_db(transaction=True)
def test_event_left_unprocessed_by_a_crash_is_swept_once(client):
    payload = load("whatsapp", "text__basic")
    channels_for("whatsapp", parsed("whatsapp", payload))
    body, content_type, _ = signed("whatsapp", payload)
    request = RawRequest(body=body, headers={"content-type": content_type}, url="", content_type=content_type)
    # The server stored the event and died before processing it.
    event_id = pipeline.event_store(platform="whatsapp", request=request, dedup_key="crash-1")
    WebhookEvent.objects.filter(pk=event_id).update(received_at=timezone.now() - timezone.timedelta(minutes=5))
    assert pipeline.events_sweep() == 1
    assert pipeline.events_sweep() == 0
    assert Message.objects.filter(direction="in").count() == 1
    assert WebhookEvent.objects.get(pk=event_id).state == "processed"


@pytest.mark.django_db(transaction=True)
def test_processing_error_is_kept_and_retried_by_the_sweep(client):
    payload = load("whatsapp", "text__basic")
    channels_for("whatsapp", parsed("whatsapp", payload))
    # A real database fault while the event is processed: PostgreSQL refuses every message row.
    table = Message._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("CREATE FUNCTION test_hiccup() RETURNS trigger LANGUAGE plpgsql AS "
                       "$$ BEGIN RAISE EXCEPTION 'database hiccup'; END $$")
        cursor.execute(f"CREATE TRIGGER test_hiccup BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION test_hiccup()")
    try:
        assert post(client, "whatsapp", payload).status_code == 200
        pipeline.drain()
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TRIGGER test_hiccup ON {table}")
            cursor.execute("DROP FUNCTION test_hiccup()")
    event = WebhookEvent.objects.get()
    assert event.state == "received" and "database hiccup" in event.error and event.attempts == 1
    assert Message.objects.count() == 0
    WebhookEvent.objects.update(received_at=timezone.now() - timezone.timedelta(minutes=5))
    assert pipeline.events_sweep() == 1
    assert Message.objects.count() == 1


@pytest.mark.django_db(transaction=True)  # the view reads channels on a worker thread
def test_meta_handshake_answers_the_challenge_only_for_the_right_token(client):
    make_channel("whatsapp", secrets={"app_secret": SECRET, "verify_token": "vt-123"})
    ok = client.get("/webhooks/whatsapp/", {"hub.mode": "subscribe", "hub.verify_token": "vt-123", "hub.challenge": "42"})
    bad = client.get("/webhooks/whatsapp/", {"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "42"})
    assert (ok.status_code, ok.content) == (200, b"42")
    assert bad.status_code == 403


@pytest.mark.django_db(transaction=True)
def test_bad_requests_get_clear_4xx_and_store_nothing(client):
    make_channel("whatsapp", secrets={"app_secret": SECRET})
    assert client.post("/webhooks/telegram/", data=b"{}", content_type="application/json").status_code == 404
    unsigned = client.post("/webhooks/whatsapp/", data=b"{}", content_type="application/json")
    assert unsigned.status_code == 401 and "signature" in unsigned.json()["error"]
    body, content_type, headers = signed("whatsapp", load("whatsapp", "text__basic"))
    tampered = client.post("/webhooks/whatsapp/", data=body + b" ", content_type=content_type, **headers)
    assert tampered.status_code == 401
    malformed_body, _, malformed_headers = signed("whatsapp", b"{not json")
    malformed = client.post("/webhooks/whatsapp/", data=malformed_body, content_type="application/json", **malformed_headers)
    assert malformed.status_code == 400 and "malformed whatsapp payload" in malformed.json()["error"]
    huge = client.post("/webhooks/whatsapp/", data=b"x" * (3 * 1024 * 1024 + 1), content_type="application/json")
    assert huge.status_code == 413
    assert WebhookEvent.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_unknown_event_types_are_stored_ignored_and_answered_200(client):
    payload = load("whatsapp", "unknown__type")
    channels_for("whatsapp", parsed("whatsapp", payload))
    assert post(client, "whatsapp", payload).status_code == 200
    pipeline.drain()
    assert WebhookEvent.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_repeat_delivery_is_answered_200_and_stored_once(client):
    payload = load("whatsapp", "text__basic")
    channels_for("whatsapp", parsed("whatsapp", payload))
    first, second = post(client, "whatsapp", payload), post(client, "whatsapp", payload)
    pipeline.drain()
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["status"] == "duplicate"
    assert WebhookEvent.objects.count() == 1 and Message.objects.count() == 1
    assert Contact.objects.count() == 1
