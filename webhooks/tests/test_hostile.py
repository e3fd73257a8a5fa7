"""Hostile webhooks through the endpoint: limits before parsing, secrets bound to their channel, dedup
per channel and hashed, single-use Mailgun tokens, and the public URL of URL-signed platforms."""
import hashlib
import hmac
import json
import time
from contextlib import contextmanager
from urllib.parse import urlencode

import pytest
from django.db.backends.signals import connection_created

from inbox.models import Message
from inbox.tests.factories import make_channel, make_rep, make_rep_channel
from platforms import service
from platforms.tests.helpers import multipart, twilio_signature
from webhooks import fastpath, pipeline
from webhooks.models import WebhookEvent
from webhooks.tests.signing import SECRET, load

pytestmark = pytest.mark.django_db(transaction=True)
FORM = "application/x-www-form-urlencoded"
SMS = load("sms", "inbound__basic")  # To +14155550100
MAIL = load("email", "inbound__basic")


@pytest.fixture(autouse=True)
def _drained(transactional_db):
    """Processing of what a test stored ends before the tables are flushed."""
    yield
    pipeline.drain()


def channel(kind, routing_key, secret=SECRET, **fields):
    made = make_channel(kind, routing_key=routing_key, secrets={"auth_token": secret, "signing_key": secret,
                                                                "app_secret": secret, "secret": secret}, **fields)
    make_rep_channel(make_rep(), made)
    return made


def post_twilio(client, fields, signed_url, *, secret=SECRET, path="/webhooks/sms/", **headers):
    signature = twilio_signature(secret, signed_url, list(fields.items()))
    return client.post(path, data=urlencode(fields).encode(), content_type=FORM, HTTP_X_TWILIO_SIGNATURE=signature, **headers)


def mailgun_signed(fields, *, secret=SECRET, token=None):
    timestamp, token = str(int(time.time())), token or hashlib.sha256(str(time.monotonic()).encode()).hexdigest()[:50]
    signature = hmac.new(secret.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return {**fields, "timestamp": timestamp, "token": token, "signature": signature}


def post_mailgun(client, fields):
    return client.post("/webhooks/email/", data=urlencode(fields).encode(), content_type=FORM)


def whatsapp_body(phone_number_id):
    payload = json.loads(load("whatsapp", "text__basic"))
    payload["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = phone_number_id
    return json.dumps(payload).encode()


def post_whatsapp(client, body, secret):
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return client.post("/webhooks/whatsapp/", data=body, content_type="application/json",
                       HTTP_X_HUB_SIGNATURE_256=f"sha256={signature}")


# ---------------------------------------------------------------- limits


@pytest.mark.parametrize("platform", ["sms", "email"])
def test_a_form_with_more_fields_than_the_limit_is_refused_before_parsing(client, platform):
    channel("sms", "+14155550100")
    channel("email", "sales@inbox.example.com")
    many = b"a=&" * 1001
    assert client.post(f"/webhooks/{platform}/", data=many, content_type=FORM).status_code == 413
    body, content_type = multipart({f"f{i}": "" for i in range(1001)})
    assert client.post(f"/webhooks/{platform}/", data=body, content_type=content_type).status_code == 413
    # Not declared a form, but the adapter reads one: its own count refuses it, unparsed.
    assert client.post(f"/webhooks/{platform}/", data=many, content_type="text/plain").status_code == 401
    assert not WebhookEvent.objects.exists()


def test_a_body_over_the_configured_limit_is_refused_unread(client, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 64 * 1024
    channel("whatsapp", "106540352242922")
    body = whatsapp_body("106540352242922")
    response = post_whatsapp(client, body + b" " * (64 * 1024), SECRET)
    assert response.status_code == 413 and not WebhookEvent.objects.exists()
    assert post_whatsapp(client, body, SECRET).status_code == 200


def test_a_check_over_its_time_budget_answers_503_and_stores_nothing(client, settings):
    settings.WEBHOOK_INLINE_CHECK_BYTES = 0
    settings.WEBHOOK_CHECK_BUDGET_SECONDS = 1e-6
    channel("whatsapp", "106540352242922")
    payload = json.loads(whatsapp_body("106540352242922"))
    payload["padding"] = "p" * 2_000_000  # a signed 2 MB body takes milliseconds to check
    response = post_whatsapp(client, json.dumps(payload).encode(), SECRET)
    assert response.status_code == 503 and not WebhookEvent.objects.exists()


# ---------------------------------------------------------------- the secrets cache


@contextmanager
def channel_reads():
    """Every query on the channel table, from any thread of this process."""
    reads = []

    def counting(execute, sql, params, many, context):
        if "salesreps_channel" in sql:
            reads.append(sql)
        return execute(sql, params, many, context)

    def install(sender, connection, **kwargs):
        if counting not in connection.execute_wrappers:
            connection.execute_wrappers.append(counting)

    connection_created.connect(install)
    try:
        yield reads
    finally:
        connection_created.disconnect(install)


def test_bad_signatures_cost_no_database_read_each_whatever_channel_they_name(client, settings):
    settings.WEBHOOK_SECRETS_TTL_SECONDS = settings.WEBHOOK_SECRETS_REFRESH_SECONDS = 60
    fastpath.forget_channels()
    channel("service", "svc")
    body = b'{"events": []}'
    with channel_reads() as reads:
        for n in range(20):
            header = service.sign(secret="not-the-secret", body=body, timestamp=int(time.time()))
            answer = client.post("/webhooks/service/", data=body, content_type="application/json",
                                 HTTP_X_SWITCHBOARD_SIGNATURE=header, HTTP_X_SWITCHBOARD_CHANNEL=f"made-up-{n}")
            assert answer.status_code == 401
    fastpath.forget_channels()
    assert len(reads) <= 1, reads


# ---------------------------------------------------------------- a secret speaks for its channel only


def test_one_channels_app_secret_does_not_authenticate_another_channels_events(client):
    channel("whatsapp", "111", secret="secret-a")
    other = channel("whatsapp", "222", secret="secret-b")
    assert post_whatsapp(client, whatsapp_body("222"), "secret-a").status_code == 401
    assert not WebhookEvent.objects.exists()
    assert post_whatsapp(client, whatsapp_body("222"), "secret-b").status_code == 200
    pipeline.drain()
    assert Message.objects.get(direction="in").channel == other


def test_one_twilio_accounts_token_does_not_authenticate_another_accounts_number(client):
    channel("sms", "+14155550199", secret="token-a")
    channel("sms", "+14155550100", secret="token-b")
    url = "http://testserver/webhooks/sms/"
    assert post_twilio(client, SMS, url, secret="token-a").status_code == 401
    assert post_twilio(client, SMS, url, secret="token-b").status_code == 200


def test_processing_applies_events_only_to_a_channel_whose_secret_signed_them(client):
    a = channel("whatsapp", "111", secret="secret-a")
    b = channel("whatsapp", "222", secret="secret-b")
    body = whatsapp_body("222")
    # Stored by a process whose cache did not know channel 222 yet: bound to channel a only.
    for n, secret in enumerate(["secret-a", "secret-b"]):
        signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        event = WebhookEvent.objects.create(platform="whatsapp", dedup_key=f"k{n}", body=body, signed_by=[a.id],
                                            headers={"x-hub-signature-256": f"sha256={signature}"})
        assert pipeline.event_process(event_id=event.id) == ("ignored" if secret == "secret-a" else "processed")
    assert Message.objects.get(direction="in").channel == b


# ---------------------------------------------------------------- dedup per channel, hashed


def test_the_same_message_id_on_two_channels_is_stored_and_processed_twice(client):
    sales, support = channel("email", "sales@inbox.example.com"), channel("email", "support@inbox.example.com")
    for recipient in ("sales@inbox.example.com", "support@inbox.example.com"):
        assert post_mailgun(client, mailgun_signed({**MAIL, "recipient": recipient})).json()["status"] == "received"
    # Mailgun's retry of the first one: signed anew, the same mail.
    assert post_mailgun(client, mailgun_signed({**MAIL, "recipient": "sales@inbox.example.com"})).json()["status"] == "duplicate"
    pipeline.drain()
    assert WebhookEvent.objects.count() == 2
    assert sorted(Message.objects.filter(direction="in").values_list("channel", flat=True)) == sorted([sales.id, support.id])


def test_a_message_id_longer_than_200_characters_dedups_on_all_of_it(client):
    channel("email", "sales@inbox.example.com")
    first, second = (f"<{'x' * 250}{end}@mail.example.org>" for end in "ab")
    for message_id in (first, second):
        fields = mailgun_signed({**MAIL, "Message-Id": message_id})
        assert post_mailgun(client, fields).json()["status"] == "received"
    assert post_mailgun(client, mailgun_signed({**MAIL, "Message-Id": first})).json()["status"] == "duplicate"
    assert WebhookEvent.objects.count() == 2


def test_an_unsigned_event_id_header_does_not_make_a_replay_new(client):
    channel("service", "svc", name="svc")
    body = json.dumps({"events": [{"id": "evt-9", "type": "message", "timestamp": int(time.time()),
                                   "message_id": "m-9", "contact_id": "u-9", "text": "hi"}]}).encode()
    header = service.sign(secret=SECRET, body=body, timestamp=int(time.time()))
    statuses = [client.post("/webhooks/service/", data=body, content_type="application/json",
                            HTTP_X_SWITCHBOARD_SIGNATURE=header, HTTP_X_SWITCHBOARD_CHANNEL="svc",
                            HTTP_X_SWITCHBOARD_EVENT_ID=event_id).json()["status"] for event_id in ("d-1", "d-2")]
    assert statuses == ["received", "duplicate"]


# ---------------------------------------------------------------- single-use Mailgun tokens


def test_a_mailgun_signature_replayed_with_another_body_is_refused(client):
    channel("email", "sales@inbox.example.com")
    signed = mailgun_signed(MAIL)
    assert post_mailgun(client, signed).json()["status"] == "received"
    forged = {**signed, "Message-Id": "<forged@evil.example>", "stripped-text": "Wire the money to…"}
    response = post_mailgun(client, forged)
    assert response.status_code == 401, response.content
    assert post_mailgun(client, signed).json()["status"] == "duplicate"  # the same delivery again
    assert WebhookEvent.objects.count() == 1


# ---------------------------------------------------------------- the URL Twilio signed


def test_twilio_through_a_trusted_proxy_verifies_against_the_forwarded_url(client, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.0/8"]
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "inbox.example.com"]
    channel("sms", "+14155550100")
    response = post_twilio(client, SMS, "https://inbox.example.com/webhooks/sms/",
                           HTTP_X_FORWARDED_PROTO="https", HTTP_X_FORWARDED_HOST="inbox.example.com")
    assert response.status_code == 200, response.content


def test_forwarded_headers_from_a_client_that_is_no_trusted_proxy_are_ignored(client, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    channel("sms", "+14155550100")
    forged = {"HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_FORWARDED_HOST": "other-app.example.net"}
    assert post_twilio(client, SMS, "https://other-app.example.net/webhooks/sms/", **forged).status_code == 401
    assert post_twilio(client, SMS, "http://testserver/webhooks/sms/", **forged).status_code == 200


def test_with_a_public_base_url_no_forwarded_host_counts(client, settings):
    settings.PUBLIC_BASE_URL = "https://inbox.example.com"
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    channel("sms", "+14155550100")
    forged = {"HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_FORWARDED_HOST": "other-app.example.net"}
    assert post_twilio(client, SMS, "https://other-app.example.net/webhooks/sms/", **forged).status_code == 401
    status = {**load("sms", "status__delivered")}
    query = "?correlation_id=switchboard-msg-7"  # a status callback comes back to the URL we gave, query and all
    response = post_twilio(client, status, f"https://inbox.example.com/webhooks/sms/{query}",
                           path=f"/webhooks/sms/{query}", **forged)
    assert response.status_code == 200, response.content


def test_a_host_outside_allowed_hosts_is_refused(client):
    channel("sms", "+14155550100")
    response = post_twilio(client, SMS, "http://evil.example/webhooks/sms/", HTTP_HOST="evil.example")
    assert response.status_code == 400
