import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from platforms.base import Ignored, InboundMessage, OptOut, PayloadError, RawRequest, StatusUpdate, Watermark
from platforms.meta_messaging import messenger

from .helpers import fixture_bytes, meta_request, mutations, parse_or_reject

PAGE = "107869478432619"
PSID = "6532547436823742"
AT = datetime.fromtimestamp(1749416383, UTC)


def ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)


def parse(name: str):
    return messenger.parse(request=meta_request(fixture_bytes("messenger", name)))


def test_text_message():
    assert parse("text__basic") == [
        InboundMessage(
            channel_key=PAGE,
            external_id="m_Aa1bB2cC3dD4eE5fF6gG7hH8iI9jJ0kK1lL2mM3nN4oO5pP6qQ7rR8sS9tT0uU",
            contact_id=PSID,
            timestamp=AT,
            text="Hi! Is the sofa still available?",
            raw_type="text",
        )
    ]


def test_first_image_attachment_is_the_media():
    [message] = parse("attachment__image")
    assert (message.kind, message.media_type, message.external_id) == ("media", "image", "m_IMG0001")
    assert message.media_url == "https://scontent.xx.fbcdn.net/v/t1.15752-9/123_n.jpg?_nc_cat=1&oh=abc&oe=def"


def test_echo_is_outbound_to_the_recipient():
    [message] = parse("echo__basic")
    assert message.is_echo
    assert (message.contact_id, message.channel_key, message.external_id) == (PSID, PAGE, "m_ECHO0001")


def test_delivery_gives_a_watermark_and_one_status_per_mid():
    at = ms(1749416390000)
    assert parse("delivery__watermark") == [
        Watermark(channel_key=PAGE, contact_id=PSID, status="delivered", watermark=at),
        StatusUpdate(channel_key=PAGE, external_id="m_OUT0001", status="delivered", timestamp=at, contact_id=PSID),
        StatusUpdate(channel_key=PAGE, external_id="m_OUT0002", status="delivered", timestamp=at, contact_id=PSID),
    ]


def test_read_gives_a_read_watermark():
    assert parse("read__watermark") == [
        Watermark(channel_key=PAGE, contact_id=PSID, status="read", watermark=ms(1749416395000))
    ]


def test_reaction():
    [message] = parse("reaction__basic")
    assert (message.kind, message.text, message.reaction_to) == ("reaction", "\u2764\ufe0f", "m_OUT0001")
    assert message.external_id == f"reaction:{PSID}:m_OUT0001:1749416383000"


def test_unreact_is_a_reaction_with_no_emoji():
    body = json.loads(fixture_bytes("messenger", "reaction__basic"))
    body["entry"][0]["messaging"][0]["reaction"] = {"action": "unreact", "mid": "m_OUT0001"}
    [message] = messenger.parse(request=meta_request(json.dumps(body).encode()))
    assert (message.kind, message.text, message.raw_type) == ("reaction", "", "unreact")


def test_postback_text_is_the_button_title():
    [message] = parse("postback__basic")
    assert (message.text, message.external_id, message.raw_type) == ("Book a viewing", "m_POSTBACK0001", "postback")


def test_stop_notifications_is_an_unsubscribe():
    assert parse("optin__stop_notifications") == [
        OptOut(channel_key=PAGE, contact_id=PSID, reason="unsubscribe", timestamp=AT)
    ]


def test_every_entry_and_messaging_item_is_read():
    events = parse("batch__multiple_entries")
    assert [(e.channel_key, e.external_id, e.text) for e in events] == [
        (PAGE, "m_B1", "one"),
        (PAGE, "m_B2", "two"),
        ("998877665544332", "m_B3", "three"),
    ]


def test_stop_text_opts_out_but_an_echoed_stop_does_not():
    body = json.loads(fixture_bytes("messenger", "text__basic"))
    body["entry"][0]["messaging"][0]["message"]["text"] = "Stop!"
    assert isinstance(messenger.parse(request=meta_request(json.dumps(body).encode()))[-1], OptOut)
    echo = json.loads(fixture_bytes("messenger", "echo__basic"))
    echo["entry"][0]["messaging"][0]["message"]["text"] = "STOP"
    assert len(messenger.parse(request=meta_request(json.dumps(echo).encode()))) == 1


def test_unknown_messaging_events_and_changes_are_ignored():
    body = {"object": "page", "entry": [{"id": PAGE, "time": 1, "messaging": [
        {"sender": {"id": PSID}, "recipient": {"id": PAGE}, "timestamp": 1, "referral": {"ref": "ad-7", "source": "ADS"}},
    ], "changes": [{"field": "feed", "value": {"item": "comment"}}]}]}
    assert messenger.parse(request=meta_request(json.dumps(body).encode())) == [
        Ignored(event_type="referral"),
        Ignored(event_type="feed"),
    ]


def test_wrong_object_is_rejected():
    with pytest.raises(PayloadError, match="object must be 'page'"):
        messenger.parse(request=meta_request(fixture_bytes("instagram", "text__basic")))


def test_message_without_mid_is_rejected():
    body = {"object": "page", "entry": [{"id": PAGE, "messaging": [
        {"sender": {"id": PSID}, "recipient": {"id": PAGE}, "timestamp": 1, "message": {"text": "hi"}}]}]}
    with pytest.raises(PayloadError, match=r"entry\[0\]\.messaging\[0\]\.message\.mid is missing"):
        messenger.parse(request=meta_request(json.dumps(body).encode()))


def test_signature_and_handshake():
    request = meta_request(fixture_bytes("messenger", "text__basic"), secret="page-app-secret")
    assert messenger.verify(request=request, secrets=["page-app-secret"], now=0)
    assert not messenger.verify(request=request, secrets=["another-app"], now=0)
    tampered = RawRequest(body=request.body + b" ", headers=request.headers, url=request.url)
    assert not messenger.verify(request=tampered, secrets=["page-app-secret"], now=0)
    unsigned = RawRequest(body=request.body, headers={"x-hub-signature": "sha1=abc"}, url=request.url)
    assert not messenger.verify(request=unsigned, secrets=["page-app-secret"], now=0)
    params = {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "CHALLENGE_ACCEPTED"}
    assert messenger.handshake(params=params, verify_tokens=["verify-me"]) == "CHALLENGE_ACCEPTED"
    assert messenger.handshake(params=params, verify_tokens=["nope"]) is None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_give_events_or_payload_error(body):
    parse_or_reject(messenger, meta_request(body))


FUZZED = ["batch__multiple_entries", "attachment__image", "delivery__watermark", "reaction__basic", "postback__basic",
          "optin__stop_notifications", "echo__basic", "read__watermark"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(FUZZED).flatmap(lambda name: mutations(json.loads(fixture_bytes("messenger", name)))))
def test_mutated_payloads_give_events_or_payload_error(body):
    parse_or_reject(messenger, meta_request(body))


# ---------------------------------------------------------------- sending


def send(provider, http, **overrides):
    arguments = {"client": http, "base_url": provider.base_url, "config": {}, "secrets": {"access_token": "EAAPage"},
                 "to": PSID, "text": "Saturday at 11?", "idempotency_key": "msg-7"} | overrides
    return messenger.send(**arguments)


def test_send_posts_the_send_api_shape(provider, http):
    provider.reply(200, {"recipient_id": PSID, "message_id": "m_SENT0001"})
    result = send(provider, http)
    assert (result.ok, result.external_id) == (True, "m_SENT0001")
    assert provider.last.path == "/v21.0/me/messages"
    assert provider.last.headers["authorization"] == "Bearer EAAPage"
    assert provider.last.json() == {"recipient": {"id": PSID}, "messaging_type": "RESPONSE",
                                    "message": {"text": "Saturday at 11?"}}


@pytest.mark.parametrize(
    ("status", "answer", "retryable", "code"),
    [
        (429, {}, True, "429"),
        (500, {"error": {"message": "An unexpected error has occurred.", "code": 1}}, True, "1"),
        (400, {"error": {"message": "(#551) This person isn't available right now.", "type": "OAuthException",
                         "code": 551, "error_subcode": 1545041}}, False, "551"),
    ],
)
def test_send_maps_errors(provider, http, status, answer, retryable, code):
    provider.reply(status, answer)
    result = send(provider, http)
    assert (result.ok, result.retryable, result.status_code, result.error_code) == (False, retryable, status, code)
    if code == "551":
        assert result.error_title == "(#551) This person isn't available right now."


def test_send_timeout_is_retryable(provider, http):
    provider.reply(200, {"message_id": "late"}, delay=1.0)
    assert send(provider, http).retryable


def test_templates_are_refused_without_a_network_call(provider, http):
    result = send(provider, http, text="", template={"name": "follow_up"})
    assert (result.ok, result.retryable, result.error_code) == (False, False, "template_unsupported")
    assert provider.requests == []
