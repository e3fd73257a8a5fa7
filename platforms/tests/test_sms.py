import base64
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from platforms import sms
from platforms.base import Ignored, InboundMessage, OptOut, PayloadError, RawRequest, StatusUpdate

from .helpers import fixture_fields, form_request, parse_or_reject, twilio_signature

URL = "https://inbox.example.com/webhooks/sms/"
RECEIVED = datetime(2025, 6, 8, 20, 59, 43, tzinfo=UTC)


def request(name: str, **extra) -> RawRequest:
    fields = fixture_fields("sms", name) | extra
    body = urlencode(fields).encode()
    return RawRequest(body=body, headers={}, url=URL, content_type="application/x-www-form-urlencoded", received_at=RECEIVED)


def parse(name: str, **extra):
    return sms.parse(request=request(name, **extra))


# ---------------------------------------------------------------- parsing fixtures


def test_inbound_sms():
    assert parse("inbound__basic") == [
        InboundMessage(
            channel_key="+14155550100",
            external_id="SM1f0e8ae6ade43cb3c0ce4525424e404f",
            contact_id="+14155550123",
            timestamp=RECEIVED,
            text="Hi, is the 3pm slot still free?",
            contact_phone="+14155550123",
            raw_type="sms",
        )
    ]


def test_inbound_mms_uses_the_first_medium():
    [message] = parse("inbound__media")
    assert (message.kind, message.media_type, message.mime_type, message.raw_type) == ("media", "image", "image/jpeg", "mms")
    assert message.media_url.endswith("/Media/ME0a1b2c3d4e5f60718293a4b5c6d7e8f")
    assert message.text == "Here's the photo"


def test_stop_yields_message_and_one_opt_out():
    message, opt_out = parse("inbound__stop")
    assert message.text == "Stop"
    assert opt_out == OptOut(channel_key="+14155550100", contact_id="+14155550123", reason="keyword", timestamp=RECEIVED)


def test_opt_out_type_covers_custom_keywords():
    assert isinstance(parse("inbound__custom_opt_out")[-1], OptOut)


def test_status_delivered_routes_by_our_from_number():
    assert parse("status__delivered") == [
        StatusUpdate(channel_key="+14155550100", external_id="SM5b7e1d1a7c0d4f0b9a8e3c2d1f0e9a8b", status="delivered",
                     timestamp=RECEIVED, contact_id="+14155550123")
    ]


def test_undelivered_is_failed_with_the_error():
    [update] = parse("status__failed")
    assert (update.status, update.error_code, update.error_title) == ("failed", "30003", "Unreachable destination handset")


def test_unsubscribed_recipient_error_opts_the_contact_out():
    update, opt_out = parse("status__unsubscribed")
    assert update.error_code == "21610"
    assert opt_out == OptOut(channel_key="+14155550100", contact_id="+14155550123", reason="unsubscribe", timestamp=RECEIVED)


@pytest.mark.parametrize("status", ["queued", "accepted", "sending"])
def test_intermediate_statuses_are_ignored(status):
    assert parse("status__queued", MessageStatus=status, SmsStatus=status) == [
        Ignored(event_type=f"status:{status}", detail="SM5b7e1d1a7c0d4f0b9a8e3c2d1f0e9a8b")
    ]


def test_read_status():
    assert parse("status__delivered", MessageStatus="read")[0].status == "read"


def test_without_received_at_the_time_is_now():
    fields = fixture_fields("sms", "inbound__basic")
    [message] = sms.parse(request=form_request(fields))
    assert abs((datetime.now(UTC) - message.timestamp).total_seconds()) < 5


def test_missing_fields_are_payload_errors():
    with pytest.raises(PayloadError, match="MessageSid is missing"):
        sms.parse(request=form_request({"Body": "hi"}))
    with pytest.raises(PayloadError, match="From is missing"):
        sms.parse(request=form_request({"MessageSid": "SM1", "SmsStatus": "received", "Body": "x", "To": "+14155550100"}))
    with pytest.raises(PayloadError, match="form body"):
        sms.parse(request=RawRequest(body=b"\xff\xfe", headers={}, url=URL))


def test_channel_candidates_put_the_messaging_service_first():
    assert sms.channel_candidates(request=request("inbound__basic")) == ["MGXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", "+14155550100"]
    assert sms.channel_candidates(request=request("status__delivered")) == ["MGXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", "+14155550100"]
    assert sms.channel_candidates(request=request("inbound__basic", MessagingServiceSid="")) == ["+14155550100"]


def test_dedup_key_is_sid_and_status():
    assert sms.dedup_key(request=request("inbound__basic")) == "SM1f0e8ae6ade43cb3c0ce4525424e404f:received"
    assert sms.dedup_key(request=request("status__delivered")) == "SM5b7e1d1a7c0d4f0b9a8e3c2d1f0e9a8b:delivered"
    assert sms.dedup_key(request=request("status__failed")) == "SM5b7e1d1a7c0d4f0b9a8e3c2d1f0e9a8b:undelivered"
    bare = form_request({"MessageSid": "SM9"})
    assert sms.dedup_key(request=bare) == "SM9:inbound"


# ---------------------------------------------------------------- signature


def signed(url_signed: str, url_received: str, params: list[tuple[str, str]], token: str = "auth-token") -> RawRequest:
    return RawRequest(
        body=urlencode(params).encode(),
        headers={"x-twilio-signature": twilio_signature(token, url_signed, params)},
        url=url_received,
        content_type="application/x-www-form-urlencoded",
    )


def test_twilio_published_test_vector():
    params = [("CallSid", "CA1234567890ABCDE"), ("Caller", "+14158675309"), ("Digits", "1234"),
              ("From", "+14158675309"), ("To", "+18005551212")]
    request = RawRequest(body=urlencode(params).encode(), headers={"x-twilio-signature": "RSOYDt4T1cUTdK1PDd93/VVr8B8="},
                         url="https://mycompany.com/myapp.php?foo=1&bar=2", content_type="application/x-www-form-urlencoded")
    assert sms.verify(request=request, secrets=["12345"], now=0)


def test_signature_good_bad_and_missing():
    params = list(fixture_fields("sms", "inbound__basic").items())
    good = signed(URL, URL, params)
    assert sms.verify(request=good, secrets=["another", "auth-token"], now=0)
    assert not sms.verify(request=good, secrets=["another"], now=0)
    assert not sms.verify(request=RawRequest(body=good.body, headers={}, url=URL), secrets=["auth-token"], now=0)


def test_tampered_body_or_url_fails():
    params = list(fixture_fields("sms", "inbound__basic").items())
    good = signed(URL, URL, params)
    tampered = RawRequest(body=good.body.replace(b"3pm", b"4pm"), headers=good.headers, url=URL, content_type=good.content_type)
    assert not sms.verify(request=tampered, secrets=["auth-token"], now=0)
    moved = RawRequest(body=good.body, headers=good.headers, url=URL + "?channel=2", content_type=good.content_type)
    assert not sms.verify(request=moved, secrets=["auth-token"], now=0)


@pytest.mark.parametrize(
    ("url_signed", "url_received"),
    [
        ("https://inbox.example.com/webhooks/sms/?c=1", "https://inbox.example.com/webhooks/sms/?c=1"),
        ("https://inbox.example.com:443/webhooks/sms/", "https://inbox.example.com/webhooks/sms/"),
        ("https://inbox.example.com/webhooks/sms/", "https://inbox.example.com:443/webhooks/sms/"),
        ("http://inbox.example.com:80/webhooks/sms/", "http://inbox.example.com/webhooks/sms/"),
        ("https://inbox.example.com:8443/webhooks/sms/", "https://inbox.example.com:8443/webhooks/sms/"),
    ],
)
def test_url_with_or_without_the_default_port(url_signed, url_received):
    params = list(fixture_fields("sms", "status__delivered").items())
    assert sms.verify(request=signed(url_signed, url_received, params), secrets=["auth-token"], now=0)


def test_a_non_default_port_is_not_dropped():
    params = list(fixture_fields("sms", "status__delivered").items())
    request = signed("https://inbox.example.com/webhooks/sms/", "https://inbox.example.com:8443/webhooks/sms/", params)
    assert not sms.verify(request=request, secrets=["auth-token"], now=0)


def test_repeated_keys_are_signed_value_by_value():
    params = [("MessageSid", "SM1"), ("MediaUrl", "https://b.example/2"), ("MediaUrl", "https://a.example/1"), ("Body", "x")]
    assert sms.verify(request=signed(URL, URL, params), secrets=["auth-token"], now=0)


def test_unicode_values_sign_as_utf8():
    params = [("MessageSid", "SM1"), ("Body", "Ol\u00e1 \U0001f44b"), ("From", "+351912345678")]
    assert sms.verify(request=signed(URL, URL, params), secrets=["auth-token"], now=0)


# ---------------------------------------------------------------- hostile input


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000), st.sampled_from(["application/x-www-form-urlencoded", "", "multipart/form-data; boundary=x"]))
def test_random_bytes_give_events_or_payload_error(body, content_type):
    parse_or_reject(sms, RawRequest(body=body, headers={"x-twilio-signature": "abc"}, url=URL, content_type=content_type))


KEYS = ["MessageSid", "SmsStatus", "MessageStatus", "From", "To", "Body", "NumMedia", "MediaUrl0",
        "MediaContentType0", "OptOutType", "ErrorCode", "MessagingServiceSid"]


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), st.text(max_size=20), max_size=12))
def test_random_fields_give_events_or_payload_error(fields):
    parse_or_reject(sms, form_request(fields, url=URL))


# ---------------------------------------------------------------- sending

CONFIG = {"account_sid": "AC0123456789abcdef0123456789abcdef", "from_number": "+14155550100"}


def send(provider, http, **overrides):
    arguments = {"client": http, "base_url": provider.base_url, "config": CONFIG, "secrets": {"auth_token": "tok"},
                 "to": "+14155550123", "text": "See you at 3", "idempotency_key": "msg-99"} | overrides
    return sms.send(**arguments)


def test_send_posts_form_with_basic_auth_and_idempotency_token(provider, http):
    provider.reply(201, {"sid": "SM0000000000000000000000000000abcd", "status": "queued"})
    result = send(provider, http)
    assert (result.ok, result.external_id, result.status_code) == (True, "SM0000000000000000000000000000abcd", 201)
    received = provider.last
    assert received.path == f"/2010-04-01/Accounts/{CONFIG['account_sid']}/Messages.json"
    assert received.headers["i-twilio-idempotency-token"] == "msg-99"
    credentials = base64.b64encode(f"{CONFIG['account_sid']}:tok".encode()).decode()
    assert received.headers["authorization"] == f"Basic {credentials}"
    assert received.headers["content-type"] == "application/x-www-form-urlencoded"
    assert received.body == urlencode({"To": "+14155550123", "From": "+14155550100", "Body": "See you at 3"}).encode()


def test_send_through_a_messaging_service(provider, http):
    provider.reply(201, {"sid": "SM1"})
    send(provider, http, config={"account_sid": "AC1", "messaging_service_sid": "MG1"})
    assert b"MessagingServiceSid=MG1" in provider.last.body and b"From=" not in provider.last.body


def test_send_content_template(provider, http):
    provider.reply(201, {"sid": "SM2"})
    send(provider, http, text="", template={"content_sid": "HX1", "variables": {"1": "Ada"}})
    assert provider.last.body == urlencode({"To": "+14155550123", "From": "+14155550100", "ContentSid": "HX1",
                                            "ContentVariables": '{"1": "Ada"}'}).encode()


@pytest.mark.parametrize(
    ("status", "answer", "retryable", "code"),
    [
        (429, {"code": 20429, "message": "Too Many Requests", "status": 429}, True, "20429"),
        (500, {"code": 20500, "message": "Internal Server Error", "status": 500}, True, "20500"),
        (400, {"code": 21211, "message": "The 'To' number +1415 is not a valid phone number.",
               "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}, False, "21211"),
    ],
)
def test_send_maps_errors(provider, http, status, answer, retryable, code):
    provider.reply(status, answer)
    result = send(provider, http)
    assert (result.ok, result.retryable, result.status_code, result.error_code) == (False, retryable, status, code)
    assert result.error_title == answer["message"]


def test_send_timeout_is_retryable(provider, http):
    provider.reply(201, {"sid": "late"}, delay=1.0)
    result = send(provider, http)
    assert (result.ok, result.retryable, result.error_code) == (False, True, "ReadTimeout")



def test_send_asks_for_status_callbacks_that_carry_our_key(provider, http):
    """The key rides in the StatusCallback URL as a query parameter; one the URL had stays."""
    provider.reply(201, {"sid": "SM3"})
    send(provider, http, config=CONFIG | {"status_callback_url": "https://inbox.example.com/webhooks/sms/?region=eu"},
         idempotency_key="switchboard-msg-42")
    form = parse_qs(provider.last.body.decode())
    assert form["StatusCallback"] == ["https://inbox.example.com/webhooks/sms/?region=eu&correlation_id=switchboard-msg-42"]


def test_a_status_callback_reads_our_key_back_from_its_url():
    fields = fixture_fields("sms", "status__delivered")
    url = f"{URL}?correlation_id=switchboard-msg-42"
    request = RawRequest(body=urlencode(fields).encode(), headers={}, url=url, content_type="application/x-www-form-urlencoded",
                         received_at=RECEIVED)
    [update] = sms.parse(request=request)
    assert (update.external_id, update.correlation_id) == ("SM5b7e1d1a7c0d4f0b9a8e3c2d1f0e9a8b", "switchboard-msg-42")
    assert parse("status__delivered")[0].correlation_id == ""  # no callback URL of ours: MessageSid only


def test_a_status_callback_to_our_url_verifies_with_its_query():
    """Twilio signs the callback URL as we gave it, query included."""
    params = list(fixture_fields("sms", "status__delivered").items())
    url = f"{URL}?correlation_id=switchboard-msg-42"
    request = signed(url, url, params)
    assert sms.verify(request=request, secrets=["auth-token"], now=0)
    assert not sms.verify(request=signed(url, URL, params), secrets=["auth-token"], now=0)  # key dropped: refused
