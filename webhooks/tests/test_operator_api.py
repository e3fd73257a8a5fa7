"""The operator's channel webhooks API (admins): the URL and verify token to paste, a signed test event
through the real endpoint, the last events and their re-drive. Real PostgreSQL; the test event goes
over loopback to a real daphne."""
from __future__ import annotations

import json

import httpx
import pytest

from conftest import ROOT, daphne
from inbox.models import Message
from inbox.tests.factories import make_channel, make_rep, make_rep_channel
from platforms.base import RawRequest
from webhooks import pipeline
from webhooks.models import WebhookEvent
from webhooks.tests.events import wait_state, whatsapp_payload
from webhooks.tests.signing import signed


def token_client(base: str, username: str) -> httpx.Client:
    answer = httpx.post(f"{base}/api/auth/token/", json={"username": username, "password": f"pass-{username}"})
    assert answer.status_code in (200, 201), answer.text
    return httpx.Client(base_url=base, headers={"Authorization": f"Token {answer.json()['token']}"})


@pytest.mark.django_db(transaction=True)  # the handshake reads tokens on a connection of its own
def test_webhook_info_names_the_url_and_never_echoes_a_secret(admin_client, settings):
    settings.PUBLIC_BASE_URL = "https://inbox.example.com"
    channel = make_channel("whatsapp", routing_key="111", secrets={"app_secret": "very-secret", "verify_token": "tok-123"})
    info = admin_client.get(f"/api/operator/channels/{channel.id}/webhook/").json()
    assert info["url"] == "https://inbox.example.com/webhooks/whatsapp/"
    assert info["verify_token_set"] is True and info["signing_secret_set"] is True and info["handshake"] is True
    assert "very-secret" not in json.dumps(info) and "tok-123" not in json.dumps(info)
    answer = admin_client.post(f"/api/operator/channels/{channel.id}/verify-token/").json()
    channel.refresh_from_db()
    assert channel.secrets["verify_token"] == answer["verify_token"] != "tok-123"
    assert channel.secrets["app_secret"] == "very-secret"  # the other secrets are kept
    # The new token answers Meta's subscription check at the real endpoint.
    check = admin_client.get("/webhooks/whatsapp/", {"hub.mode": "subscribe", "hub.verify_token": answer["verify_token"],
                                                     "hub.challenge": "4242"})
    assert check.status_code == 200 and check.content == b"4242"


@pytest.mark.django_db
def test_webhook_endpoints_answer_bad_input_with_a_clear_4xx(admin_client):
    sms = make_channel("sms", routing_key="+14155550100", secrets={"auth_token": "t"})
    bare = make_channel("whatsapp", routing_key="222", secrets={"verify_token": "v"})
    processed = WebhookEvent.objects.create(platform="whatsapp", dedup_key="k2", body=b"{}", state="processed")
    cases = [
        ("post", f"/api/operator/channels/{sms.id}/verify-token/", None, 400, "sms has no verify-token handshake"),
        ("post", f"/api/operator/channels/{bare.id}/test-event/", {}, 400, "has no app_secret secret"),
        ("post", f"/api/operator/channels/{sms.id}/test-event/", {"text": ""}, 400, "text"),
        ("post", f"/api/operator/channels/{sms.id}/test-event/", {"text": "x" * 5000}, 400, "4096"),
        ("post", "/api/operator/channels/999999/test-event/", {}, 404, ""),
        ("get", f"/api/operator/channels/{sms.id}/webhook-events/?limit=abc", None, 400, "limit must be a whole number"),
        ("get", f"/api/operator/channels/{sms.id}/webhook-events/?limit=0", None, 400, "limit must be a whole number"),
        ("post", f"/api/operator/webhook-events/{processed.id}/redrive/", None, 409, "is processed: only unrouted"),
        ("post", "/api/operator/webhook-events/999999/redrive/", None, 404, "no webhook event 999999"),
    ]
    for method, path, body, status, words in cases:
        kwargs = {"data": json.dumps(body), "content_type": "application/json"} if body is not None else {}
        response = getattr(admin_client, method)(path, **kwargs)
        assert response.status_code == status, (path, body, response.content)
        assert words in response.content.decode(), (path, body, response.content)
    processed.refresh_from_db()
    assert processed.state == "processed"


@pytest.mark.django_db(transaction=True)
def test_an_unrouted_event_is_redriven_once_the_channel_routes_it(admin_client):
    channel = make_channel("whatsapp", name="WA Main", routing_key="111", secrets={"app_secret": "wa-secret"})
    make_rep_channel(make_rep("ursula"), channel)
    # Signed with the channel's secret but for a phone_number_id no channel has (yet): stored, then unrouted.
    payload, content_type, headers = signed("whatsapp", whatsapp_payload("999", "Are you open on Sunday?"), secret="wa-secret")
    stored = admin_client.post("/webhooks/whatsapp/", payload, content_type=content_type, **headers).json()
    pipeline.drain()
    event = wait_state(stored["id"])
    assert event.state == "ignored" and event.channel_id is None
    rows = admin_client.get(f"/api/operator/channels/{channel.id}/webhook-events/").json()["results"]
    assert [(r["id"], r["unrouted"], r["redrivable"]) for r in rows] == [(event.id, True, True)]
    assert "message from Una Routed: 'Are you open on Sunday?'" in rows[0]["summary"]
    assert not Message.objects.filter(body="Are you open on Sunday?").exists()

    patched = admin_client.patch(f"/api/channels/{channel.id}/", {"routing_key": "999"}, content_type="application/json")
    assert patched.status_code == 200
    answer = admin_client.post(f"/api/operator/webhook-events/{event.id}/redrive/").json()
    assert answer["state"] == "processed" and answer["channel"] == channel.id
    assert Message.objects.get(body="Are you open on Sunday?").channel_id == channel.id
    again = admin_client.post(f"/api/operator/webhook-events/{event.id}/redrive/")
    assert again.status_code == 409  # processed now: a second re-drive would not be idempotent-safe to offer
    assert Message.objects.filter(body="Are you open on Sunday?").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_failed_event_is_redriven_and_its_error_cleared(admin_client):
    channel = make_channel("whatsapp", name="WA Faro", routing_key="289", secrets={"app_secret": "faro-secret"})
    make_rep_channel(make_rep("fabio"), channel)
    body, content_type, _ = signed("whatsapp", whatsapp_payload("289", "Is it in stock?"), secret="faro-secret")
    request = RawRequest(body=body, headers={"content-type": content_type}, url="", content_type=content_type)
    event_id = pipeline.event_store(platform="whatsapp", request=request, dedup_key="faro-1")
    # Stored, then every processing attempt hit a database outage: the sweep gave up on it.
    WebhookEvent.objects.filter(pk=event_id).update(state="failed", attempts=pipeline.MAX_ATTEMPTS,
                                                    error="OperationalError: the database system is starting up")
    rows = admin_client.get(f"/api/operator/channels/{channel.id}/webhook-events/").json()["results"]
    assert [(r["id"], r["state"], r["redrivable"]) for r in rows] == [(event_id, "failed", True)]
    assert rows[0]["error"].startswith("OperationalError")
    answer = admin_client.post(f"/api/operator/webhook-events/{event_id}/redrive/").json()
    assert answer == {"id": event_id, "state": "processed", "error": "", "channel": channel.id}
    assert WebhookEvent.objects.get(pk=event_id).attempts == 1
    assert Message.objects.get(body="Is it in stock?").channel_id == channel.id


# ---------------------------------------------------------------- the test event on a live server


@pytest.fixture(scope="module")
def public_daphne(django_db_setup):
    """A daphne behind a (pretend) TLS proxy: PUBLIC_BASE_URL names the public origin, so a URL-signed
    sample (Twilio's) must be signed for that URL while it is posted to loopback."""
    with daphne(ROOT / "var" / "daphne-operator.log", {"PUBLIC_BASE_URL": "https://inbox.example.com"}) as base:
        yield base


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind, routing_key, secrets", [
    ("sms", "+14155550100", {"auth_token": "twilio-token"}),
    ("email", "sales@inbox.example.com", {"signing_key": "mailgun-key"}),
    ("service", "", {"secret": "svc-secret"}),
    ("messenger", "107869478432619", {"app_secret": "meta-secret"}),
])
def test_the_test_event_is_signed_like_the_platform_and_processed(public_daphne, admin, kind, routing_key, secrets):
    channel = make_channel(kind, name=f"Test {kind}", routing_key=routing_key or f"Test {kind}", secrets=secrets)
    make_rep_channel(make_rep(f"tess{kind}"), channel)
    with token_client(public_daphne, "root") as client:
        answer = client.post(f"/api/operator/channels/{channel.id}/test-event/", json={"text": f"hello via {kind}"}).json()
        assert answer["ok"] is True, answer
        assert answer["signed_url"] == f"https://inbox.example.com/webhooks/{kind}/"
        event = wait_state(answer["event_id"])
        assert event.state == "processed" and event.channel_id == channel.id, event.error
        # An e-mail's message starts with its subject.
        assert Message.objects.get(body__endswith=f"hello via {kind}").channel_id == channel.id
        rows = client.get(f"/api/operator/channels/{channel.id}/webhook-events/").json()["results"]
        assert rows[0]["id"] == event.id and rows[0]["state"] == "processed" and rows[0]["bound"] is True
        # The page's list shows the message as the adapter parsed it, never the raw body.
        assert rows[0]["summary"].endswith(f"'hello via {kind}'")
