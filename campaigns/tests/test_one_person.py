"""One person is one contact, driven where users and platforms enter: the CSV import API, a
campaign started and dispatched, replies posted signed to /webhooks/<platform>/ in each
platform's own shape (WhatsApp's wa_id without "+", Twilio's From with it), STOP, merge."""
from __future__ import annotations

import copy
import json
import time as clock
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone

from campaigns.models import CampaignRecipient
from campaigns.services.sequences import followups_plan
from campaigns.tests.world import make_campaign, start, wall
from core.models import UserEvent
from inbox.models import Contact, ContactIdentity, ContactMerge, Conversation, Message, Suppression, Template
from inbox.services.outbound import dispatch_due_messages
from inbox.tests.factories import make_channel, make_rep, make_rep_channel, make_user
from platforms.tests.helpers import FIXTURES
from webhooks import pipeline
from webhooks.models import WebhookEvent
from webhooks.tests.signing import SECRET, signed

ADA = "+14155550123"  # what Twilio's From says
ADA_WA_ID = "14155550123"  # what WhatsApp's wa_id says for the same phone
SMS_NUMBER, PHONE_NUMBER_ID = "+14155550100", "106540352242922"
SENT_AT = datetime(2026, 11, 30, 12, tzinfo=UTC)  # campaigns go out the day before the replies


def fixture(platform: str, name: str):
    raw = (FIXTURES / platform / f"{name}.json").read_bytes()
    return json.loads(raw)


def post(client, platform: str, payload) -> None:
    body, content_type, headers = signed(platform, payload if platform == "sms" else json.dumps(payload).encode())
    response = client.post(f"/webhooks/{platform}/", data=body, content_type=content_type, **headers)
    assert response.status_code == 200, response.content
    pipeline.drain()
    assert WebhookEvent.objects.exclude(state__in=["processed", "ignored"]).count() == 0


def sms_from(number: str, text: str, sid: str) -> dict:
    fields = fixture("sms", "inbound__basic")
    fields.update(From=number, Body=text, MessageSid=sid, SmsSid=sid, SmsMessageSid=sid, To=SMS_NUMBER)
    return fields


def whatsapp_from(wa_id: str, text: str, wamid: str, at: datetime | None = None) -> dict:
    payload = copy.deepcopy(fixture("whatsapp", "text__basic"))
    value = payload["entry"][0]["changes"][0]["value"]
    value["metadata"]["phone_number_id"] = PHONE_NUMBER_ID
    value["contacts"][0]["wa_id"] = wa_id
    message = value["messages"][0]
    message.update({"from": wa_id, "id": wamid, "timestamp": str(int((at or timezone.now()).timestamp()))})
    message["text"]["body"] = text
    return payload


@pytest.fixture
def team(transactional_db, client):
    admin = make_user(superuser=True)
    client.force_login(admin)
    rep = make_rep()
    sms = make_channel("sms", name="texts", routing_key=SMS_NUMBER, secrets={"auth_token": SECRET})
    whatsapp = make_channel("whatsapp", name="wa", routing_key=PHONE_NUMBER_ID, secrets={"app_secret": SECRET})
    for channel in (sms, whatsapp):
        make_rep_channel(rep, channel)
    template = Template.objects.create(name="hello", body="Hi {first_name}", whatsapp_name="hello")
    return {"admin": admin, "rep": rep, "sms": sms, "whatsapp": whatsapp, "template": template, "client": client}


def import_csv(client, text: str) -> dict:
    response = client.post("/api/contacts/import/", {"file": SimpleUploadedFile("c.csv", text.encode(), "text/csv")})
    assert response.status_code == 201, response.content
    return response.json()


def run_campaign(team, channel, **fields):
    campaign = make_campaign(channel, start=wall(2026, 11, 30, 0), end=wall(2026, 12, 1, 0), user=team["admin"], **fields)
    result = start(campaign, now=SENT_AT - timedelta(hours=1))
    dispatch_due_messages(max_seconds=60, now=SENT_AT)
    return campaign, result


def test_imported_contact_answers_on_each_platform_and_stays_one_person(team):
    client = team["client"]
    imported = import_csv(client, f"name,phone,email,timezone,tags,country\nAda Lovelace,{ADA},ada@example.com,,vip,US\n")
    ada = Contact.objects.get(pk=imported["ids"][0])
    sms_campaign, _ = run_campaign(team, team["sms"], text="Hi {first_name}", steps=[{"number": 1, "delay_hours": 24}])
    wa_campaign, _ = run_campaign(team, team["whatsapp"], template=team["template"], text="")
    assert Message.objects.filter(conversation__contact=ada, status="sent").count() == 2
    # each send recorded the identity its platform will answer from
    assert set(ContactIdentity.objects.filter(contact=ada).values_list("channel__kind", "external_id")) == {
        ("sms", ADA), ("whatsapp", ADA_WA_ID)}

    post(client, "sms", sms_from(ADA, "Yes, tell me more", "SMada1"))
    post(client, "whatsapp", whatsapp_from(ADA_WA_ID, "And on WhatsApp too", "wamid.ada1"))

    assert Contact.objects.count() == 1
    ada.refresh_from_db()
    conversations = Conversation.objects.filter(contact=ada)
    assert sorted(conversations.values_list("channel__kind", flat=True)) == ["sms", "whatsapp"]
    assert all(c.rep_id == team["rep"].id for c in conversations)
    assert Message.objects.filter(conversation__contact=ada, direction="in").count() == 2
    assert ada.last_inbound_at is not None  # WhatsApp's 24-hour window is open for the imported contact
    # the reply hook ran: the campaign messages are answered, the follow-up never comes
    assert CampaignRecipient.objects.get(campaign=sms_campaign, contact=ada, step=0).replied_at is not None
    followups_plan(now=timezone.now() + timedelta(days=2))
    follow_up = CampaignRecipient.objects.filter(campaign=sms_campaign, contact=ada, step=1).first()
    assert follow_up is None or (follow_up.state, follow_up.message_id) == ("cancelled", None)
    # the rep answering on SMS sees the same person's WhatsApp history
    sms_conversation = conversations.get(channel=team["sms"])
    detail = client.get(f"/api/conversations/{sms_conversation.id}/").json()
    assert {(c["channel_kind"], c["external_id"]) for c in detail["contact_channels"]} == {("sms", ADA), ("whatsapp", ADA_WA_ID)}
    timeline = client.get(f"/api/contacts/{ada.id}/timeline/").json()["results"]
    assert {m["body"] for m in timeline} >= {"Yes, tell me more", "And on WhatsApp too"}


def test_stop_from_the_imported_contact_opts_the_person_out_everywhere(team):
    client = team["client"]
    ada = Contact.objects.get(pk=import_csv(client, f"name,phone,email\nAda,{ADA},ada@example.com\n")["ids"][0])
    run_campaign(team, team["sms"], text="Hi {first_name}")
    stop = fixture("sms", "inbound__stop")
    stop.update(From=ADA, To=SMS_NUMBER)
    post(client, "sms", stop)

    ada.refresh_from_db()
    assert (Contact.objects.count(), ada.opted_out, ada.opt_out_reason) == (1, True, "keyword")
    assert set(Suppression.objects.values_list("address", flat=True)) == {ADA, "ada@example.com"}
    # the next campaign leaves the person out, and says why
    other = Contact.objects.create(name="Bo", phone="+14155550124")
    campaign, result = run_campaign(team, team["whatsapp"], template=team["template"], text="")
    assert result.excluded == {"opted_out": 1}
    assert list(CampaignRecipient.objects.filter(campaign=campaign).values_list("contact_id", flat=True)) == [other.id]
    # a later contact for the same number — by hand, or from a new conversation after a delete — starts opted out
    created = client.post("/api/contacts/", {"name": "Ada again", "phone": ADA}, content_type="application/json").json()
    assert created["preferences"]["opted_out"] is True
    Contact.objects.filter(phone=ADA).delete()
    post(client, "whatsapp", whatsapp_from(ADA_WA_ID, "hello?", "wamid.ada2"))
    reborn = Contact.objects.get(phone=ADA)
    assert (reborn.opted_out, reborn.opt_out_reason) == (True, "keyword")


def test_an_inbound_sms_from_a_japanese_number_creates_a_contact_in_tokyo(team):
    post(team["client"], "sms", sms_from("+81312345678", "konnichiwa", "SMjp1"))
    contact = Contact.objects.get(phone="+81312345678")
    assert (contact.timezone, contact.country) == ("Asia/Tokyo", "JP")


def test_late_and_future_messages_never_move_times_backwards_or_ahead(team):
    client = team["client"]
    now = timezone.now()
    post(client, "whatsapp", whatsapp_from(ADA_WA_ID, "second", "wamid.t2", at=now - timedelta(minutes=1)))
    post(client, "whatsapp", whatsapp_from(ADA_WA_ID, "first, delivered late", "wamid.t1", at=now - timedelta(hours=3)))
    conversation = Conversation.objects.get()
    contact = conversation.contact
    assert conversation.last_inbound_at == contact.last_inbound_at
    assert abs(conversation.last_inbound_at - (now - timedelta(minutes=1))) < timedelta(seconds=2)
    assert conversation.last_message_preview == "second" and conversation.unread_count == 2
    post(client, "whatsapp", whatsapp_from(ADA_WA_ID, "from the future", "wamid.t3", at=now + timedelta(days=30)))
    conversation.refresh_from_db()
    assert conversation.last_inbound_at <= timezone.now()


def test_two_contacts_at_one_address_never_merge_silently(team):
    first = Contact.objects.create(name="Ada (old)", phone=ADA)
    second = Contact.objects.create(name="Ada (new)", phone=ADA)
    post(team["client"], "sms", sms_from(ADA, "hi", "SMamb1"))
    message = Message.objects.get(direction="in")
    assert message.conversation.contact_id == second.id  # the most recent one
    assert Contact.objects.filter(pk=first.pk).exists()
    groups = team["client"].get("/api/contacts/duplicates/").json()
    assert groups == [{"key": "phone", "value": ADA, "contact_ids": [first.id, second.id]}]


def test_merge_moves_everything_keeps_the_opt_out_and_tells_the_inbox(team):
    client = team["client"]
    kept = Contact.objects.get(pk=import_csv(client, f"name,phone,email\nAda,{ADA},\n")["ids"][0])
    duplicate = Contact.objects.create(name="Ada L.", phone=ADA, email="ada@example.com", tags=["fair"])
    campaign, result = run_campaign(team, team["sms"], text="Hi {first_name}")
    assert result.scheduled == 2  # one person, two rows: what the merge is for
    post(client, "whatsapp", whatsapp_from(ADA_WA_ID, "hello", "wamid.m1"))  # lands on the most recent: the duplicate
    assert Conversation.objects.filter(contact=duplicate).count() == 2
    Contact.objects.filter(pk=duplicate.pk).update(opted_out=True, opt_out_reason="complaint")

    out = StringIO()
    call_command("merge_duplicate_contacts", "--dry-run", stdout=out)
    assert f"would merge {duplicate.id} into {kept.id} (same phone: {ADA})" in out.getvalue()
    assert Contact.objects.filter(pk=duplicate.pk).exists()  # a dry run changes nothing

    duplicate_identities = ContactIdentity.objects.filter(contact=duplicate).count()
    events_before = UserEvent.objects.filter(user=team["admin"], name="conversation.updated").count()
    response = client.post(f"/api/contacts/{kept.id}/merge/", {"duplicate": duplicate.id}, content_type="application/json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["email"], body["tags"], body["preferences"]["opted_out"]) == ("ada@example.com", ["fair"], True)
    assert not Contact.objects.filter(pk=duplicate.pk).exists()
    assert set(Conversation.objects.filter(contact=kept).values_list("channel__kind", flat=True)) == {"sms", "whatsapp"}
    sms = Conversation.objects.get(contact=kept, channel=team["sms"])
    assert Message.objects.filter(conversation=sms).count() == 2  # both campaign messages, one conversation
    assert ContactIdentity.objects.filter(contact=kept).count() == 2
    assert list(CampaignRecipient.objects.filter(campaign=campaign).values_list("contact_id", flat=True)) == [kept.id]
    record = ContactMerge.objects.get()
    assert (record.kept_id, record.merged_contact_id, record.by_user_id) == (kept.id, duplicate.id, team["admin"].id)
    assert record.moved["identities"] == duplicate_identities >= 1 and record.moved["conversations_folded"] == 1
    assert UserEvent.objects.filter(user=team["admin"], name="conversation.updated").count() >= events_before + 2
    assert ADA in set(Suppression.objects.values_list("address", flat=True))
    out = StringIO()
    call_command("merge_duplicate_contacts", stdout=out)
    assert out.getvalue() == "no duplicate contacts\n"


def test_merge_refuses_bad_input_with_clear_errors(team):
    client = team["client"]
    contact = Contact.objects.create(name="Solo", phone=ADA)
    assert client.post(f"/api/contacts/{contact.id}/merge/", {"duplicate": contact.id},
                       content_type="application/json").json() == {"detail": "a contact cannot be merged into itself"}
    missing = client.post(f"/api/contacts/{contact.id}/merge/", {"duplicate": 987654321}, content_type="application/json")
    assert missing.status_code == 404
    bad = client.post(f"/api/contacts/{contact.id}/merge/", {"duplicate": "x"}, content_type="application/json")
    assert bad.status_code == 400 and "duplicate" in bad.json()
    rep_client = type(client)()
    rep_client.force_login(team["rep"].user)
    assert rep_client.post(f"/api/contacts/{contact.id}/merge/", {"duplicate": 1}, content_type="application/json").status_code in (403, 404)
    assert Contact.objects.filter(pk=contact.pk).exists()


def test_concurrent_first_messages_from_one_number_make_one_contact(team):
    """Two channels, one person, the first message on each at the same moment: the advisory lock
    per address lets only one create the contact."""
    import threading

    errors = []

    def deliver(platform, payload):
        try:
            body, content_type, headers = signed(platform, payload if platform == "sms" else json.dumps(payload).encode())
            type(team["client"])().post(f"/webhooks/{platform}/", data=body, content_type=content_type, **headers)
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=deliver, args=("sms", sms_from(ADA, "one", "SMrace1"))),
               threading.Thread(target=deliver, args=("whatsapp", whatsapp_from(ADA_WA_ID, "two", "wamid.race1")))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    deadline = clock.monotonic() + 10
    while clock.monotonic() < deadline and Message.objects.filter(direction="in").count() < 2:
        pipeline.drain()
        clock.sleep(0.05)
    assert errors == []
    assert Contact.objects.count() == 1
    assert Message.objects.filter(direction="in").count() == 2
