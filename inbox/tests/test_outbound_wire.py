"""What a templated send puts on the wire, driven through dispatch against loopback fakes of the
providers' APIs (platforms/tests/conftest.py), checked against the shapes they document."""
import json
import threading
import time
from datetime import time as dt_time
from datetime import timedelta
from email import message_from_bytes
from urllib.parse import parse_qs

import pytest
from django.utils import timezone

from inbox.models import Conversation, Message, Template
from inbox.services.outbound import dispatch_due_messages, messages_reconcile_expired
from inbox.tests.factories import make_channel, make_conversation, make_rep, make_rep_channel
from platforms.meta import GRAPH_VERSION
from platforms.tests.conftest import provider, smtp_server  # noqa: F401 - the loopback provider fixtures
from salesreps.models import ActivityRecord, SalesRepChannel
from webhooks import pipeline
from webhooks.models import WebhookEvent
from webhooks.tests.signing import SECRET, load
from webhooks.tests.test_webhooks import channels_for, parsed, post


def _queue(conversation, template, variables, body):
    return Message.objects.create(conversation=conversation, channel=conversation.channel, direction="out",
                                  status="queued", template=template, variables=variables, body=body, due_at=timezone.now())


@pytest.mark.django_db
def test_a_whatsapp_template_with_two_body_parameters_goes_out_as_meta_documents(provider):  # noqa: F811
    provider.reply(200, {"messaging_product": "whatsapp", "messages": [{"id": "wamid.T2"}]})
    channel = make_channel("whatsapp", config={"phone_number_id": "106540352242922", "api_base_url": provider.base_url},
                           secrets={"access_token": "token-1", "app_secret": "s"})
    rep = make_rep()
    make_rep_channel(rep, channel, sandbox=False)
    conversation = make_conversation(rep, channel, external_id="351911111111")
    template = Template.objects.create(name="order ready", body="Olá {name}, a encomenda {order} está pronta. {name}!",
                                       whatsapp_name="order_ready", whatsapp_language="pt_PT")
    message = _queue(conversation, template, {"name": "Ada", "order": "#42"}, "Olá Ada, a encomenda #42 está pronta. Ada!")
    dispatch_due_messages(max_seconds=30, batch=10)

    message.refresh_from_db()
    assert (message.status, message.external_id) == ("sent", "wamid.T2")
    assert provider.last.path == f"/{GRAPH_VERSION}/106540352242922/messages"
    assert provider.last.headers["authorization"] == "Bearer token-1"
    assert provider.last.json() == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": "351911111111", "type": "template",
        "template": {"name": "order_ready", "language": {"code": "pt_PT"}, "components": [
            {"type": "body", "parameters": [{"type": "text", "text": "Ada"}, {"type": "text", "text": "#42"}]}]},
        "biz_opaque_callback_data": f"switchboard-msg-{message.id}",
    }


@pytest.mark.django_db
def test_an_sms_never_carries_a_whatsapp_template_name_it_sends_the_rendered_text(provider):  # noqa: F811
    provider.reply(201, {"sid": "SM123", "status": "queued"})
    channel = make_channel("sms", config={"account_sid": "AC1", "from_number": "+15550001111",
                                          "api_base_url": provider.base_url}, secrets={"auth_token": "t"})
    rep = make_rep()
    make_rep_channel(rep, channel, sandbox=False)
    conversation = make_conversation(rep, channel, external_id="+351911111111")
    template = Template.objects.create(name="follow up", body="Hi {name}", whatsapp_name="follow_up")
    message = _queue(conversation, template, {"name": "Ada"}, "Hi Ada")
    dispatch_due_messages(max_seconds=30, batch=10)

    message.refresh_from_db()
    assert (message.status, message.external_id) == ("sent", "SM123")
    form = parse_qs(provider.last.body.decode())
    assert form["Body"] == ["Hi Ada"] and "ContentSid" not in form
    assert form["To"] == ["+351911111111"] and form["From"] == ["+15550001111"]


@pytest.mark.django_db
@pytest.mark.parametrize(("hours_ago", "expected"), [
    (2, {"messaging_type": "RESPONSE"}),
    (30, {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}),
])
def test_messenger_answers_with_response_inside_24_hours_and_the_human_agent_tag_after(provider, hours_ago, expected):  # noqa: F811
    provider.reply(200, {"recipient_id": "psid-1", "message_id": "m_1"})
    channel = make_channel("messenger", config={"api_base_url": provider.base_url, "human_agent_tag": True},
                           secrets={"access_token": "page-token", "app_secret": "s"})
    rep = make_rep()
    make_rep_channel(rep, channel, sandbox=False)
    conversation = make_conversation(rep, channel, external_id="psid-1")
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now() - timedelta(hours=hours_ago))
    message = _queue(conversation, None, {}, "Still interested?")
    dispatch_due_messages(max_seconds=30, batch=10)

    message.refresh_from_db()
    assert (message.status, message.external_id) == ("sent", "m_1")
    assert provider.last.json() == {"recipient": {"id": "psid-1"}, "message": {"text": "Still interested?"}, **expected}


@pytest.mark.django_db
def test_messenger_after_24_hours_without_the_tag_is_refused_with_its_reason_and_nothing_is_sent(provider):  # noqa: F811
    channel = make_channel("messenger", config={"api_base_url": provider.base_url},
                           secrets={"access_token": "page-token", "app_secret": "s"})
    rep = make_rep()
    make_rep_channel(rep, channel, sandbox=False)
    conversation = make_conversation(rep, channel, external_id="psid-2")
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now() - timedelta(hours=30))
    message = _queue(conversation, None, {}, "Hello again")
    dispatch_due_messages(max_seconds=30, batch=10)

    message.refresh_from_db()
    assert (message.status, message.error_code) == ("failed", "messenger_24h_window")
    assert "HUMAN_AGENT" in message.error_title
    assert provider.requests == []


@pytest.mark.django_db(transaction=True)
def test_an_email_reply_goes_to_the_address_in_the_same_thread(client, smtp_server):  # noqa: F811
    """Bob writes through the real webhook (Mailgun's shape); the rep's reply leaves by SMTP to his
    address with "Re: " his subject, In-Reply-To his Message-Id and References, never to a phone."""
    payload = load("email", "inbound__basic")
    [channel] = channels_for("email", parsed("email", payload)).values()
    channel.config = {"smtp_host": smtp_server.host, "smtp_port": smtp_server.port, "from_address": "sales@inbox.example.com",
                      "subject": "A message from Switchboard"}
    channel.save(update_fields=["config"])
    SalesRepChannel.objects.filter(channel=channel).update(sandbox=False)
    assert post(client, "email", payload).status_code == 200
    pipeline.drain()
    conversation = Conversation.objects.get(channel=channel)
    conversation.contact.phone = "+15550009999"  # known too: must not be used for e-mail
    conversation.contact.save(update_fields=["phone"])
    reply = _queue(conversation, None, {}, "Here is your quote.")
    dispatch_due_messages(max_seconds=30, batch=10)

    reply.refresh_from_db()
    assert reply.status == "sent", (reply.status, reply.error_code, reply.error_title)
    [envelope] = smtp_server.envelopes
    mail = message_from_bytes(envelope.original_content)
    assert envelope.rcpt_tos == ["bob.lee@example.org"]
    assert mail["Subject"] == "Re: Quote for 20 chairs"
    assert mail["In-Reply-To"] == "<CAFx7w2s1kR9=abcDEF123@mail.example.org>"
    assert "<CAFx7w2s1kR9=abcDEF123@mail.example.org>" in mail["References"]
    assert mail["Message-ID"] == reply.external_id


@pytest.mark.django_db
def test_an_email_without_an_address_fails_with_its_reason(smtp_server):  # noqa: F811
    channel = make_channel("email", config={"smtp_host": smtp_server.host, "smtp_port": smtp_server.port,
                                            "from_address": "sales@inbox.example.com"})
    rep = make_rep()
    make_rep_channel(rep, channel, sandbox=False)
    conversation = make_conversation(rep, channel, phone="+15550009999")
    conversation.contact.identities.all().delete()
    message = _queue(conversation, None, {}, "Hello")
    dispatch_due_messages(max_seconds=30, batch=10)

    message.refresh_from_db()
    assert (message.status, message.error_code) == ("failed", "no_address")
    assert smtp_server.envelopes == []


@pytest.mark.django_db
def test_a_retry_after_the_shift_ended_is_deferred_not_sent(provider):  # noqa: F811
    """The first claim reserves capacity and meets a provider hiccup (retryable); the retry comes
    after the rep's shift: every rule runs again, so it waits for the next shift instead of going."""
    provider.reply(503, {"code": 20503, "message": "Service temporarily unavailable"})  # Twilio says so: not sent
    channel = make_channel("sms", config={"account_sid": "AC1", "from_number": "+15550001111",
                                          "api_base_url": provider.base_url}, secrets={"auth_token": "t"})
    rep = make_rep()
    now = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
    make_rep_channel(rep, channel, sandbox=False, start=dt_time(9), end=dt_time(17), tz="UTC")
    conversation = make_conversation(rep, channel, external_id="+351911111111")
    message = _queue(conversation, None, {}, "Following up")
    Message.objects.filter(pk=message.pk).update(due_at=now)
    dispatch_due_messages(max_seconds=30, batch=10, now=now)
    message.refresh_from_db()
    assert message.status == "queued" and ActivityRecord.objects.filter(message_id=message.id).count() == 1
    assert len(provider.requests) == 1

    provider.reply(201, {"sid": "SM9"})
    evening = now.replace(hour=18)
    Message.objects.filter(pk=message.pk).update(due_at=evening)
    dispatch_due_messages(max_seconds=30, batch=10, now=evening)
    message.refresh_from_db()
    assert (message.status, message.defer_code) == ("deferred", "outside_shift")
    assert message.due_at.hour == 9 and len(provider.requests) == 1  # not sent again after hours
    assert ActivityRecord.objects.filter(message_id=message.id).count() == 1  # still reserved once


def _whatsapp_channel(provider):  # noqa: F811
    channel = make_channel("whatsapp", routing_key="106540352242922",
                           config={"phone_number_id": "106540352242922", "api_base_url": provider.base_url},
                           secrets={"access_token": "token-1", "app_secret": SECRET})
    rep = make_rep()
    make_rep_channel(rep, channel, sandbox=False)
    conversation = make_conversation(rep, channel, external_id="351911111111")
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now())
    return channel, conversation


def _status_webhook(client, *, wamid: str, correlation: str, status: str = "delivered"):
    payload = json.loads(load("whatsapp", "status__delivered"))
    entry = payload["entry"][0]["changes"][0]["value"]["statuses"][0]
    entry.update(id=wamid, status=status, recipient_id="351911111111", biz_opaque_callback_data=correlation,
                 timestamp=str(int(timezone.now().timestamp())))
    assert post(client, "whatsapp", json.dumps(payload).encode()).status_code == 200
    pipeline.drain()


@pytest.mark.django_db(transaction=True)
def test_a_timeout_after_meta_accepted_is_not_resent_and_the_status_settles_it(client, provider, settings):  # noqa: F811
    """Meta took the message but answered too late: delivery unknown, never sent twice; the status
    webhook names it by our correlation id (biz_opaque_callback_data) and settles it."""
    settings.PROVIDER_TIMEOUT_SECONDS = 0.3
    provider.reply(200, {"messages": [{"id": "wamid.LATE"}]}, delay=1.0)
    channel, conversation = _whatsapp_channel(provider)
    message = _queue(conversation, None, {}, "Your order is ready")
    dispatch_due_messages(max_seconds=30, batch=10)
    message.refresh_from_db()
    assert (message.status, message.needs_reconciliation, message.defer_code) == ("sending", True, "delivery_unknown")
    assert "delivery unknown" in message.defer_reason
    Message.objects.filter(pk=message.pk).update(due_at=timezone.now())  # even once due again
    dispatch_due_messages(max_seconds=30, batch=10)
    assert len(provider.requests) == 1  # not resent blind

    _status_webhook(client, wamid="wamid.LATE", correlation=f"switchboard-msg-{message.id}")
    message.refresh_from_db()
    assert (message.status, message.external_id, message.needs_reconciliation, message.defer_code) == (
        "delivered", "wamid.LATE", False, "")
    assert list(message.events.values_list("status", flat=True)) == ["delivered"]


@pytest.mark.django_db(transaction=True)
def test_delivery_unknown_past_the_timeout_fails_with_a_reason_and_a_rep_can_retry_it(client, provider, settings):  # noqa: F811
    settings.PROVIDER_TIMEOUT_SECONDS = 0.3
    provider.reply(200, {"messages": [{"id": "wamid.NEVER"}]}, delay=1.0)
    channel, conversation = _whatsapp_channel(provider)
    message = _queue(conversation, None, {}, "Hello?")
    dispatch_due_messages(max_seconds=30, batch=10)
    assert messages_reconcile_expired(now=timezone.now() + timedelta(minutes=29)) == 0
    assert messages_reconcile_expired(now=timezone.now() + timedelta(minutes=31)) == 1
    message.refresh_from_db()
    assert (message.status, message.error_code) == ("failed", "delivery_unknown")
    assert "may arrive twice" in message.error_title
    assert ActivityRecord.objects.filter(message_id=message.id).count() == 1  # it may have used the capacity

    provider.reply(200, {"messages": [{"id": "wamid.AGAIN"}]})
    client.force_login(conversation.rep.user)
    response = client.post(f"/api/messages/{message.id}/retry/")
    assert response.status_code in (200, 201, 202), response.content
    dispatch_due_messages(max_seconds=30, batch=10)
    message.refresh_from_db()
    assert (message.status, message.external_id) == ("sent", "wamid.AGAIN") and len(provider.requests) == 2
    assert ActivityRecord.objects.filter(message_id=message.id).count() == 1  # reserved once, not twice


@pytest.mark.django_db(transaction=True)
def test_a_messenger_echo_that_beats_the_send_answer_is_one_message_and_the_batch_goes_on(client, provider):  # noqa: F811
    """Meta echoes our send (is_echo) before answering it: still one message row, sent, with the
    platform's id; the other messages of the batch are sent too."""
    provider.reply(200, {"recipient_id": "6532547436823742", "message_id": "m_ECHO0001"}, delay=1.0)
    channel = make_channel("messenger", routing_key="107869478432619", config={"api_base_url": provider.base_url},
                           secrets={"access_token": "page-token", "app_secret": SECRET})
    rep = make_rep()
    make_rep_channel(rep, channel, sandbox=False)
    conversation = make_conversation(rep, channel, external_id="6532547436823742")
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now())
    ours = _queue(conversation, None, {}, "Yes, it is! Want to see it Saturday?")
    # another page (the fake answers every send with the same id, unique per channel)
    other_channel = make_channel("messenger", routing_key="page-2", config={"api_base_url": provider.base_url},
                                 secrets={"access_token": "page-token-2", "app_secret": SECRET})
    make_rep_channel(rep, other_channel, sandbox=False)
    other = _queue(make_conversation(rep, other_channel, external_id="psid-other"), None, {}, "Hi")
    Conversation.objects.filter(pk=other.conversation_id).update(last_inbound_at=timezone.now())

    def echo_while_the_send_waits():
        time.sleep(0.4)
        payload = load("messenger", "echo__basic")
        assert post(client, "messenger", payload).status_code == 200
        pipeline.drain()

    echo = threading.Thread(target=echo_while_the_send_waits)
    echo.start()
    dispatch_due_messages(max_seconds=30, batch=10)
    echo.join()

    ours.refresh_from_db()
    assert (ours.status, ours.external_id) == ("sent", "m_ECHO0001")
    assert Message.objects.filter(channel=channel, external_id="m_ECHO0001").count() == 1
    assert Message.objects.filter(conversation=conversation).count() == 1
    assert WebhookEvent.objects.get().state == "processed"
    other.refresh_from_db()
    assert other.status == "sent"
