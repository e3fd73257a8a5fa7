import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from platforms.base import Ignored, InboundMessage, PayloadError, RawRequest, StatusUpdate
from platforms.meta_messaging import instagram

from .helpers import fixture_bytes, meta_request, mutations, parse_or_reject

IG = "17841405822304914"
IGSID = "1254459154682919"
AT = datetime.fromtimestamp(1749416383, UTC)


def parse(name: str):
    return instagram.parse(request=meta_request(fixture_bytes("instagram", name)))


def test_text_message():
    assert parse("text__basic") == [
        InboundMessage(
            channel_key=IG,
            external_id="aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDA1ODIyMzA0OTE0OjM0MDI4MjM2Njg0MTcxMDMwMTI0NDI1OTY1MTg4MDQ5NjM2NjIwNjozMTk",
            contact_id=IGSID,
            timestamp=AT,
            text="Do you ship to Lisbon?",
            raw_type="text",
        )
    ]


def test_echo_goes_to_the_recipient():
    [message] = parse("echo__basic")
    assert (message.is_echo, message.contact_id, message.text) == (True, IGSID, "We do! 3-5 days.")


def test_read_with_mid_is_a_status_update():
    assert parse("read__basic") == [
        StatusUpdate(channel_key=IG, external_id="aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlOUT1", status="read", timestamp=AT,
                     contact_id=IGSID)
    ]


def test_story_mention_keeps_its_link():
    [message] = parse("story_mention__basic")
    assert (message.kind, message.raw_type) == ("unsupported", "story_mention")
    assert message.media_url.startswith("https://lookaside.fbsbx.com/ig_messaging_cdn/")


def test_reaction():
    [message] = parse("reaction__basic")
    assert (message.kind, message.text) == ("reaction", "\u2764\ufe0f")
    assert message.reaction_to == "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlOUT1"


def test_comment_changes_are_ignored():
    assert parse("comment__change") == [Ignored(event_type="comments")]


def test_deleted_message_is_ignored():
    body = {"object": "instagram", "entry": [{"id": IG, "time": 1, "messaging": [
        {"sender": {"id": IGSID}, "recipient": {"id": IG}, "timestamp": 1, "message": {"mid": "m1", "is_deleted": True}}]}]}
    events = instagram.parse(request=meta_request(json.dumps(body).encode()))
    assert events == [Ignored(event_type="message_deleted", detail="m1")]


def test_page_payload_is_rejected():
    with pytest.raises(PayloadError, match="object must be 'instagram'"):
        instagram.parse(request=meta_request(fixture_bytes("messenger", "text__basic")))


def test_signature():
    request = meta_request(fixture_bytes("instagram", "text__basic"), secret="ig-app-secret")
    assert instagram.verify(request=request, secrets=["ig-app-secret"], now=0)
    tampered = RawRequest(body=request.body.replace(b"Lisbon", b"Porto"), headers=request.headers, url=request.url)
    assert not instagram.verify(request=tampered, secrets=["ig-app-secret"], now=0)
    assert not instagram.verify(request=RawRequest(body=request.body, headers={}, url=""), secrets=["ig-app-secret"], now=0)
    params = {"hub.mode": "subscribe", "hub.verify_token": "ig-token", "hub.challenge": "42"}
    assert instagram.handshake(params=params, verify_tokens=["ig-token"]) == "42"
    assert instagram.handshake(params=params, verify_tokens=["wrong"]) is None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_give_events_or_payload_error(body):
    parse_or_reject(instagram, meta_request(body))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["text__basic", "read__basic", "story_mention__basic", "reaction__basic", "comment__change"])
       .flatmap(lambda name: mutations(json.loads(fixture_bytes("instagram", name)))))
def test_mutated_payloads_give_events_or_payload_error(body):
    parse_or_reject(instagram, meta_request(body))


def test_send_posts_the_send_api_shape(provider, http):
    provider.reply(200, {"recipient_id": IGSID, "message_id": "aWdfSENT"})
    result = instagram.send(client=http, base_url=provider.base_url + "/", config={}, secrets={"access_token": "IGAA"},
                            to=IGSID, text="Yes!", idempotency_key="k1")
    assert (result.ok, result.external_id) == (True, "aWdfSENT")
    assert provider.last.path == "/v21.0/me/messages"
    assert provider.last.headers["authorization"] == "Bearer IGAA"
    assert provider.last.json()["recipient"] == {"id": IGSID}


@pytest.mark.parametrize(("status", "retryable"), [(429, True), (500, True), (400, False)])
def test_send_maps_errors(provider, http, status, retryable):
    provider.reply(status, {"error": {"message": "Invalid OAuth access token", "code": 190}})
    result = instagram.send(client=http, base_url=provider.base_url, config={}, secrets={"access_token": "bad"},
                            to=IGSID, text="Yes!", idempotency_key="k1")
    assert (result.ok, result.retryable, result.error_code, result.error_title) == (
        False, retryable, "190", "Invalid OAuth access token")


def test_send_timeout_is_retryable(provider, http):
    provider.reply(200, {}, delay=1.0)
    result = instagram.send(client=http, base_url=provider.base_url, config={}, secrets={"access_token": "t"},
                            to=IGSID, text="Yes!", idempotency_key="k1")
    assert (result.ok, result.retryable) == (False, True)
