"""Statuses that name our send by correlation id, or come before the send's answer is stored, driven
through the real flow: dispatch against loopback fakes of the providers (platforms/tests/conftest.py),
status webhooks through the real endpoint, signed as the platforms sign them."""
import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from email import message_from_bytes
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from conftest import ROOT, _test_env
from inbox.models import Conversation, Message, PendingStatus
from inbox.services.outbound import dispatch_due_messages, messages_reconcile_expired
from inbox.tests.factories import make_channel, make_conversation, make_rep, make_rep_channel
from platforms.tests.conftest import provider, smtp_server  # noqa: F401 - the loopback provider fixtures
from platforms.tests.helpers import twilio_signature
from webhooks import pipeline
from webhooks.tests.signing import SECRET, load
from webhooks.tests.test_webhooks import post

PNID = "106540352242922"


def _queue(conversation, body):
    return Message.objects.create(conversation=conversation, channel=conversation.channel, direction="out",
                                  status="queued", body=body, due_at=timezone.now())


def _whatsapp(provider):  # noqa: F811
    channel = make_channel("whatsapp", routing_key=PNID, config={"phone_number_id": PNID, "api_base_url": provider.base_url},
                           secrets={"access_token": "token-1", "app_secret": SECRET})
    make_rep_channel(make_rep(), channel, sandbox=False)
    conversation = make_conversation(channel.rep_channels.get().rep, channel, external_id="351911111111")
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now())
    return conversation


def _whatsapp_status(*, wamid: str, correlation: str, status: str = "delivered") -> None:
    """Meta's status webhook, posted by a client of its own (the fake provider's thread)."""
    payload = json.loads(load("whatsapp", "status__delivered"))
    entry = payload["entry"][0]["changes"][0]["value"]["statuses"][0]
    entry.update(id=wamid, status=status, recipient_id="351911111111", timestamp=str(int(timezone.now().timestamp())))
    if correlation:
        entry["biz_opaque_callback_data"] = correlation
    try:
        assert post(Client(), "whatsapp", json.dumps(payload).encode()).status_code == 200
        pipeline.drain()
    finally:
        connection.close()  # this thread's connection: the transactional teardown truncates


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("echoes_our_key", [True, False], ids=["by-correlation", "by-external-id"])
def test_a_status_posted_before_the_send_is_answered_is_applied_once_the_answer_is_recorded(provider, echoes_our_key):  # noqa: F811
    """Meta posts "delivered" while our request is still open: nothing names the message yet (or it
    is still waiting for its answer), so the status is kept, and the answer's record applies it."""
    kept = []

    def status_first(request):
        correlation = request.json()["biz_opaque_callback_data"] if echoes_our_key else ""
        _whatsapp_status(wamid="wamid.EARLY", correlation=correlation)
        kept.append(list(PendingStatus.objects.values_list("external_id", "status")))

    provider.reply(200, {"messaging_product": "whatsapp", "messages": [{"id": "wamid.EARLY"}]})
    provider.before_answer = status_first
    message = _queue(_whatsapp(provider), "Your order is ready")
    dispatch_due_messages(max_seconds=30, batch=10)

    message.refresh_from_db()
    assert kept == [[("wamid.EARLY", "delivered")]]  # kept while the send waited for its answer
    assert (message.status, message.external_id) == ("delivered", "wamid.EARLY")  # not "sent"
    assert list(message.events.values_list("status", flat=True)) == ["delivered"]
    assert not PendingStatus.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_status_kept_before_a_timeout_settles_the_message_as_it_is_parked(provider, settings):  # noqa: F811
    """Meta reports "read" and then answers too late: the message is parked as delivery unknown and
    settled at once by the status kept for it, never resent."""
    settings.PROVIDER_TIMEOUT_SECONDS = 0.3
    provider.reply(200, {"messages": [{"id": "wamid.SLOW"}]}, delay=1.0)
    provider.before_answer = lambda request: _whatsapp_status(wamid="wamid.SLOW", status="read",
                                                              correlation=request.json()["biz_opaque_callback_data"])
    message = _queue(_whatsapp(provider), "Your order is ready")
    dispatch_due_messages(max_seconds=30, batch=10)

    message.refresh_from_db()
    assert (message.status, message.external_id, message.needs_reconciliation, message.defer_code) == ("read", "wamid.SLOW", False, "")
    Message.objects.filter(pk=message.pk).update(due_at=timezone.now())
    dispatch_due_messages(max_seconds=30, batch=10)
    assert len(provider.requests) == 1 and not PendingStatus.objects.exists()


# ---- Twilio: our key in the StatusCallback URL ---------------------------------------------------


def _sms(provider):  # noqa: F811
    channel = make_channel("sms", routing_key="+15550001111", secrets={"auth_token": SECRET},
                           config={"account_sid": "AC1", "from_number": "+15550001111", "api_base_url": provider.base_url,
                                   "status_callback_url": "http://testserver/webhooks/sms/"})
    make_rep_channel(make_rep(), channel, sandbox=False)
    return make_conversation(channel.rep_channels.get().rep, channel, external_id="+351911111111")


def _twilio_callback(request, sid: str, status: str = "delivered") -> None:
    """What Twilio does with a send's StatusCallback: POST the status to that URL, signed over it."""
    callback = parse_qs(request.body.decode())["StatusCallback"][0]
    fields = {"MessageSid": sid, "SmsSid": sid, "MessageStatus": status, "SmsStatus": status, "AccountSid": "AC1",
              "From": "+15550001111", "To": "+351911111111", "ApiVersion": "2010-04-01"}
    parts = urlsplit(callback)
    try:
        response = Client().post(f"{parts.path}?{parts.query}", data=urlencode(fields), content_type="application/x-www-form-urlencoded",
                                 HTTP_X_TWILIO_SIGNATURE=twilio_signature(SECRET, callback, sorted(fields.items())))
        assert response.status_code == 200, response.content
        pipeline.drain()
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_a_twilio_timeout_after_it_accepted_is_not_resent_and_its_status_callback_settles_it(provider, settings):  # noqa: F811
    """Twilio took the message but answered too late: no MessageSid stored. Its status callback comes
    to our StatusCallback URL, which carries our key: the message is found by it."""
    settings.PROVIDER_TIMEOUT_SECONDS = 0.3
    provider.reply(201, {"sid": "SMLATE", "status": "queued"}, delay=1.0)
    message = _queue(_sms(provider), "Following up")
    dispatch_due_messages(max_seconds=30, batch=10)
    message.refresh_from_db()
    assert (message.status, message.needs_reconciliation, message.external_id) == ("sending", True, "")
    assert parse_qs(provider.last.body.decode())["StatusCallback"] == [
        f"http://testserver/webhooks/sms/?correlation_id=switchboard-msg-{message.id}"]
    Message.objects.filter(pk=message.pk).update(due_at=timezone.now())
    dispatch_due_messages(max_seconds=30, batch=10)
    assert len(provider.requests) == 1  # not resent blind

    _twilio_callback(provider.last, "SMLATE")
    message.refresh_from_db()
    assert (message.status, message.external_id, message.needs_reconciliation) == ("delivered", "SMLATE", False)


@pytest.mark.django_db(transaction=True)
def test_a_twilio_status_callback_before_the_answer_is_applied_when_it_is_recorded(provider):  # noqa: F811
    provider.reply(201, {"sid": "SMFAST", "status": "queued"})
    provider.before_answer = lambda request: _twilio_callback(request, "SMFAST")
    message = _queue(_sms(provider), "Following up")
    dispatch_due_messages(max_seconds=30, batch=10)
    message.refresh_from_db()
    assert (message.status, message.external_id) == ("delivered", "SMFAST")
    assert not PendingStatus.objects.exists()


# ---- e-mail: our key in the Message-ID --------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_email_whose_smtp_answer_was_lost_is_settled_by_the_reply_that_quotes_it(client, smtp_server):  # noqa: F811
    """The server queued the mail but answered after our timeout: delivery unknown. Bob's reply names
    our Message-ID in In-Reply-To; it embeds our key, so the message is found and delivered."""
    smtp_server.data_delay = 0.8
    channel = make_channel("email", routing_key="sales@inbox.example.com", secrets={"signing_key": SECRET},
                           config={"smtp_host": smtp_server.host, "smtp_port": smtp_server.port, "smtp_timeout": 0.5,
                                   "from_address": "Sales <sales@inbox.example.com>", "subject": "Your quote"})
    make_rep_channel(make_rep(), channel, sandbox=False)
    conversation = make_conversation(channel.rep_channels.get().rep, channel, external_id="bob.lee@example.org")
    message = _queue(conversation, "Here is your quote.")
    dispatch_due_messages(max_seconds=30, batch=10)
    message.refresh_from_db()
    assert (message.status, message.needs_reconciliation) == ("sending", True)
    sent_id = message_from_bytes(smtp_server.envelopes[0].original_content)["Message-ID"]
    assert sent_id.startswith(f"<switchboard-msg-{message.id}.")

    reply = load("email", "inbound__reply_to_ours") | {"In-Reply-To": sent_id, "References": sent_id, "message-headers": "[]"}
    assert post(client, "email", reply).status_code == 200
    pipeline.drain()
    message.refresh_from_db()
    assert (message.status, message.external_id, message.needs_reconciliation) == ("delivered", sent_id, False)
    assert conversation.messages.get(direction="in").reply_to_external_id == sent_id
    assert len(smtp_server.envelopes) == 1


# ---- kept statuses: a worker killed mid-send; a day's limit --------------------------------------


DISPATCHER = ("import django; django.setup(); from inbox.services.outbound import dispatch_due_messages; "
              "dispatch_due_messages(max_seconds=60)")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_status_kept_while_the_worker_died_mid_send_settles_the_parked_message(provider, settings):  # noqa: F811
    """Meta reports "delivered" while the dispatcher waits for its answer; then that process is killed
    (SIGKILL). The next claim parks the message (never resent blind) and beat settles it from the
    status that was kept, instead of failing it after 30 minutes."""
    dispatcher = None

    def status_then_crash(request):
        _whatsapp_status(wamid="wamid.CRASH", correlation=request.json()["biz_opaque_callback_data"])
        os.kill(dispatcher.pid, signal.SIGKILL)

    provider.reply(200, {"messages": [{"id": "wamid.CRASH"}]})
    provider.before_answer = status_then_crash
    message = _queue(_whatsapp(provider), "Your order is ready")
    # A dispatcher process of its own (the worker's code path, no broker): it takes the message, Meta
    # reports, and it is killed before the answer.
    dispatcher = subprocess.Popen([sys.executable, "-c", DISPATCHER], env=_test_env(), cwd=ROOT)
    try:
        assert dispatcher.wait(60) == -signal.SIGKILL
    finally:
        if dispatcher.poll() is None:
            dispatcher.kill()
    message.refresh_from_db()
    assert (message.status, message.external_id) == ("sending", "") and PendingStatus.objects.count() == 1

    after_lease = timezone.now() + timedelta(seconds=settings.SEND_LEASE_SECONDS + 5)
    dispatch_due_messages(max_seconds=30, batch=10, now=after_lease)
    message.refresh_from_db()
    assert (message.status, message.needs_reconciliation) == ("sending", True)  # parked, not resent
    assert messages_reconcile_expired() == 0
    message.refresh_from_db()
    assert (message.status, message.external_id, message.needs_reconciliation) == ("delivered", "wamid.CRASH", False)
    assert len(provider.requests) == 1 and not PendingStatus.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_status_naming_no_message_is_kept_for_a_day_then_dropped(client, provider):  # noqa: F811
    _whatsapp(provider)
    _whatsapp_status(wamid="wamid.NOBODY", correlation="")
    assert PendingStatus.objects.count() == 1
    messages_reconcile_expired(now=timezone.now() + timedelta(hours=23))
    assert PendingStatus.objects.count() == 1
    messages_reconcile_expired(now=timezone.now() + timedelta(days=1, minutes=1))
    assert not PendingStatus.objects.exists()
