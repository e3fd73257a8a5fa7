import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from platforms import service
from platforms.base import Ignored, InboundMessage, OptOut, PayloadError, RawRequest, StatusUpdate

from .helpers import fixture_bytes, mutations, parse_or_reject

SECRET = "svc-secret"
NOW = 1749416383


def request(body: bytes, *, secret: str = SECRET, t: int = NOW, headers: dict | None = None) -> RawRequest:
    signature = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    base = {"x-switchboard-signature": f"t={t},v1={signature}", "x-switchboard-channel": "Telegram-Bridge",
            "content-type": "application/json"}
    return RawRequest(body=body, headers=base | (headers or {}), url="https://inbox.example.com/webhooks/service/",
                      content_type="application/json")


def parse(name: str):
    return service.parse(request=request(fixture_bytes("service", name)))


def test_message():
    assert parse("message__basic") == [
        InboundMessage(
            channel_key="Telegram-Bridge",
            external_id="tg-88121",
            contact_id="tg-user-5521",
            timestamp=datetime.fromtimestamp(1749416383, UTC),
            text="Hello from the bridge",
            contact_name="Ada Lovelace",
            contact_phone="+4915112345678",
            raw_type="message",
        )
    ]


def test_status_with_iso_timestamp():
    assert parse("status__read") == [
        StatusUpdate(channel_key="Telegram-Bridge", external_id="tg-out-90001", status="read",
                     timestamp=datetime(2025, 6, 8, 21, 0, 10, tzinfo=UTC), contact_id="tg-user-5521")
    ]


def test_opt_out():
    assert parse("opt_out__basic") == [
        OptOut(channel_key="Telegram-Bridge", contact_id="tg-user-5521", reason="unsubscribe",
               timestamp=datetime.fromtimestamp(1749416500, UTC))
    ]


def test_batch_reads_every_event_and_ignores_unknown_types():
    media, failed, typing = parse("batch__mixed")
    assert (media.kind, media.media_url, media.media_type, media.mime_type) == (
        "media", "https://bridge.internal/media/1.jpg", "image", "image/jpeg")
    assert (failed.status, failed.error_code, failed.error_title) == ("failed", "blocked", "User blocked the bot")
    assert typing == Ignored(event_type="typing")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b'{"events": {}}', "events must be a list"),
        (b"{}", "events is missing"),
        (b'{"events": [{"type": "status", "timestamp": 1, "message_id": "m", "status": "seen"}]}',
         r"events\[0\]\.status must be one of"),
        (b'{"events": [{"type": "message", "timestamp": "2025-06-08T21:00:10", "message_id": "m", "contact_id": "c"}]}',
         "needs a UTC offset"),
        (b'{"events": [{"type": "message", "timestamp": 1}]}', r"events\[0\]\.message_id is missing"),
    ],
)
def test_malformed_events_say_what_is_wrong(body, error):
    with pytest.raises(PayloadError, match=error):
        service.parse(request=request(body))


def test_channel_header_is_required():
    req = request(fixture_bytes("service", "message__basic"))
    headers = {k: v for k, v in req.headers.items() if k != "x-switchboard-channel"}
    with pytest.raises(PayloadError, match="X-Switchboard-Channel"):
        service.parse(request=RawRequest(body=req.body, headers=headers, url=req.url))


# ---------------------------------------------------------------- signature and dedup


def test_signature_good_bad_missing_tampered():
    body = fixture_bytes("service", "message__basic")
    good = request(body)
    assert service.verify(request=good, secrets=["old", SECRET], now=NOW)
    assert not service.verify(request=good, secrets=["old"], now=NOW)
    assert not service.verify(request=RawRequest(body=body, headers={}, url=""), secrets=[SECRET], now=NOW)
    tampered = RawRequest(body=body.replace(b"Hello", b"Hallo"), headers=good.headers, url="")
    assert not service.verify(request=tampered, secrets=[SECRET], now=NOW)


def test_timestamp_outside_tolerance_is_refused():
    good = request(fixture_bytes("service", "message__basic"), t=NOW)
    assert service.verify(request=good, secrets=[SECRET], now=NOW + 300)
    assert not service.verify(request=good, secrets=[SECRET], now=NOW + 301)
    assert not service.verify(request=good, secrets=[SECRET], now=NOW - 301)


@pytest.mark.parametrize("header", ["t=abc,v1=00", "t=1" + "0" * 5000 + ",v1=00", "v1=00", "t=1749416383", "", "garbage"])
def test_malformed_signature_headers_are_refused(header):
    req = RawRequest(body=b"{}", headers={"x-switchboard-signature": header}, url="")
    assert service.verify(request=req, secrets=[SECRET], now=NOW) is False


def test_the_timestamp_is_signed():
    good = request(b"{}", t=NOW)
    forged = good.headers["x-switchboard-signature"].replace(f"t={NOW}", f"t={NOW + 100}")
    assert not service.verify(request=RawRequest(body=b"{}", headers={"x-switchboard-signature": forged}, url=""),
                              secrets=[SECRET], now=NOW + 100)


def test_several_v1_signatures_during_rotation():
    good = request(b"{}", t=NOW)
    header = good.headers["x-switchboard-signature"]
    rotated = f"{header.split(',')[0]},v1={'0' * 64},{header.split(',')[1]}"
    assert service.verify(request=RawRequest(body=b"{}", headers={"x-switchboard-signature": rotated}, url=""),
                          secrets=[SECRET], now=NOW)


def test_sign_matches_verify():
    header = service.sign(secret=SECRET, body=b'{"events": []}', timestamp=NOW)
    req = RawRequest(body=b'{"events": []}', headers={"x-switchboard-signature": header}, url="")
    assert service.verify(request=req, secrets=[SECRET], now=NOW)


def test_dedup_key_is_the_signed_event_ids_never_the_unsigned_header():
    body = fixture_bytes("service", "message__basic")
    key = service.dedup_key(request=request(body))
    assert service.dedup_key(request=request(body, headers={"x-switchboard-event-id": "delivery-77"})) == key
    reserialized = json.dumps(json.loads(body), indent=2).encode()
    assert service.dedup_key(request=request(reserialized)) == key
    no_ids = b'{"events": [{"type": "message"}]}'
    assert service.dedup_key(request=request(no_ids)) == hashlib.sha256(no_ids).hexdigest()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000), st.text(max_size=40))
def test_random_bytes_give_events_or_payload_error(body, signature):
    parse_or_reject(service, RawRequest(body=body, headers={"x-switchboard-signature": signature,
                                                            "x-switchboard-channel": "c"}, url=""))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["message__basic", "status__read", "opt_out__basic", "batch__mixed"]).flatmap(
    lambda name: mutations(json.loads(fixture_bytes("service", name)))))
def test_mutated_payloads_give_events_or_payload_error(body):
    parse_or_reject(service, request(body))


# ---------------------------------------------------------------- sending


def send(provider, http, **overrides):
    arguments = {"client": http, "base_url": provider.base_url + "/bridge", "config": {"name": "Telegram-Bridge"},
                 "secrets": {"secret": SECRET}, "to": "tg-user-5521", "text": "On my way", "idempotency_key": "msg-5"}
    return service.send(**arguments | overrides)


def test_send_is_signed_json_with_an_idempotency_key(provider, http):
    provider.reply(202, {"id": "tg-out-1"})
    result = send(provider, http)
    assert (result.ok, result.external_id, result.status_code) == (True, "tg-out-1", 202)
    received = provider.last
    assert received.path == "/bridge/messages"
    assert received.headers["idempotency-key"] == "msg-5"
    assert received.headers["x-switchboard-channel"] == "Telegram-Bridge"
    assert received.json() == {"channel": "Telegram-Bridge", "to": "tg-user-5521", "text": "On my way", "template": None,
                               "idempotency_key": "msg-5"}
    # The service verifies what it received with the same scheme as our inbound side.
    as_inbound = RawRequest(body=received.body, headers=received.headers, url="")
    assert service.verify(request=as_inbound, secrets=[SECRET], now=time.time())


@pytest.mark.parametrize(
    ("status", "retryable", "code"),
    [(429, True, "rate_limited"), (500, True, "rate_limited"), (400, False, "rate_limited")],
)
def test_send_maps_errors(provider, http, status, retryable, code):
    provider.reply(status, {"error": {"code": code, "message": "slow down"}})
    result = send(provider, http)
    assert (result.ok, result.retryable, result.error_code, result.error_title) == (False, retryable, code, "slow down")


def test_send_error_without_body_uses_the_status(provider, http):
    provider.reply(404, b"")
    result = send(provider, http)
    assert (result.ok, result.retryable, result.error_code, result.error_title) == (False, False, "404", "Not Found")


def test_send_timeout_is_retryable(provider, http):
    provider.reply(200, {"id": "late"}, delay=1.0)
    result = send(provider, http)
    assert (result.ok, result.retryable, result.error_code) == (False, True, "ReadTimeout")


def test_a_status_carries_the_idempotency_key_of_the_send_as_its_correlation_id():
    body = json.dumps({"events": [{"type": "status", "timestamp": NOW, "message_id": "tg-out-1", "status": "delivered",
                                   "idempotency_key": "switchboard-msg-42"}]}).encode()
    [update] = service.parse(request=request(body))
    assert (update.external_id, update.correlation_id) == ("tg-out-1", "switchboard-msg-42")
