import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from platforms import get_adapter, whatsapp
from platforms.base import Ignored, InboundMessage, OptOut, PayloadError, RawRequest, StatusUpdate

from .conftest import free_port
from .helpers import fixture_bytes, meta_request, mutations, parse_or_reject

PNID = "106540352242922"
AT = datetime.fromtimestamp(1749416383, UTC)


def parse(name: str):
    return whatsapp.parse(request=meta_request(fixture_bytes("whatsapp", name)))


def test_registry_names_the_module():
    assert get_adapter("whatsapp") is whatsapp
    assert get_adapter("telegram") is None


# ---------------------------------------------------------------- parsing fixtures


def test_text_message_carries_contact_name_and_e164_phone():
    [message] = parse("text__basic")
    assert message == InboundMessage(
        channel_key=PNID,
        external_id="wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
        contact_id="16505551234",
        timestamp=AT,
        kind="text",
        text="Does it come in another color?",
        contact_name="Sheena Nelson",
        contact_phone="+16505551234",
        raw_type="text",
    )


def test_stop_keyword_yields_the_message_and_an_opt_out():
    message, opt_out = parse("text__stop_keyword")
    assert isinstance(message, InboundMessage) and message.text == "STOP"
    assert opt_out == OptOut(channel_key=PNID, contact_id="16505551234", reason="keyword", timestamp=AT)


def test_image_keeps_media_id_mime_and_caption():
    [message] = parse("image__caption")
    assert message.kind == "media"
    assert message.media_url == "whatsapp-media:1003383421387256"
    assert (message.media_type, message.mime_type) == ("image", "image/jpeg")
    assert message.text == "This one, in blue?"


def test_document_keeps_its_file_name_and_caption():
    [message] = parse("document__filename")
    assert (message.kind, message.media_type, message.mime_type) == ("media", "document", "application/pdf")
    assert message.media_url == "whatsapp-media:1208416627449390"
    assert (message.filename, message.text) == ("PO-2025-0117.pdf", "Our purchase order")
    assert parse("image__caption")[0].filename == ""  # only documents carry one


def test_location_has_coordinates_and_label():
    [message] = parse("location__basic")
    assert message.kind == "location"
    assert (message.latitude, message.longitude) == (37.483307, -122.148981)
    assert message.text == "Philz Coffee\n1 Hacker Way, Menlo Park, CA 94025"


def test_reaction_points_at_the_reacted_message_with_its_emoji():
    [message] = parse("reaction__basic")
    assert message.kind == "reaction"
    assert message.reaction_to == "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI4QzYyQjU1MzE3QkM3NjBCODEA"
    assert message.text == "\U0001f44d"  # the raw bytes hold "\ud83d\udc4d" escapes, as Meta sends


def test_context_id_becomes_reply_to_and_unicode_survives():
    [message] = parse("reply__context")
    assert message.reply_to == "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI5QUI1RDU0MEJERTdCOEE0OTMA"
    assert message.text == "Yes, Thursday works \u2014 merci!"


def test_button_reply_text_is_its_title():
    [message] = parse("interactive__button_reply")
    assert (message.kind, message.text, message.raw_type) == ("text", "Thursday 10:00", "interactive")
    assert message.reply_to == "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBJBNEYyOEQ2MDhCNzZDRjgzQkYA"


@pytest.mark.parametrize(
    ("name", "status", "seconds"),
    [("status__sent", "sent", 1749416400), ("status__delivered", "delivered", 1749416402), ("status__read", "read", 1749416410)],
)
def test_statuses(name, status, seconds):
    assert parse(name) == [
        StatusUpdate(
            channel_key=PNID,
            external_id="wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI3QjRGMTA2NDVFQ0YwRUY2OTMA",
            status=status,
            timestamp=datetime.fromtimestamp(seconds, UTC),
            contact_id="16505551234",
        )
    ]


def test_failed_status_carries_the_first_error():
    [update] = parse("status__failed")
    assert (update.status, update.error_code, update.error_title) == ("failed", "131047", "Re-engagement message")


def test_batch_reads_every_entry_change_message_and_status():
    events = parse("batch__multiple_entries")
    messages = [e for e in events if isinstance(e, InboundMessage)]
    statuses = [e for e in events if isinstance(e, StatusUpdate)]
    assert [(m.channel_key, m.external_id, m.contact_name, m.contact_phone) for m in messages] == [
        (PNID, "wamid.BATCH.A1", "Sheena Nelson", "+16505551234"),
        (PNID, "wamid.BATCH.A2", "Jo\u00e3o Silva", "+5511987654321"),
        ("106540352242999", "wamid.BATCH.B1", "Ana", "+447700900123"),
    ]
    assert [(s.channel_key, s.external_id, s.status) for s in statuses] == [
        (PNID, "wamid.OUT.1", "delivered"),
        (PNID, "wamid.OUT.2", "read"),
        ("106540352242999", "wamid.OUT.3", "sent"),
    ]


def test_unknown_field_is_ignored_and_unknown_message_type_is_unsupported():
    ignored, message = parse("unknown__type")
    assert ignored == Ignored(event_type="message_template_status_update")
    assert (message.kind, message.raw_type, message.external_id) == ("unsupported", "unsupported", "wamid.UNSUPPORTED.1")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"not json", "body is not valid JSON"),
        (b"[]", "body must be a JSON object"),
        (b'{"object": "page", "entry": []}', "object must be 'whatsapp_business_account'"),
        (b'{"object": "whatsapp_business_account", "entry": {}}', "entry must be a list"),
        (b'{"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": {}}]}]}',
         "entry[0].changes[0].value.metadata must be an object"),
    ],
)
def test_malformed_payloads_say_what_is_wrong(body, error):
    with pytest.raises(PayloadError, match=error.replace("[", r"\[").replace("]", r"\]")):
        whatsapp.parse(request=meta_request(body))


# ---------------------------------------------------------------- signature, dedup, handshake


def test_signature_over_the_raw_bytes():
    request = meta_request(fixture_bytes("whatsapp", "text__basic"), secret="app-secret")
    assert whatsapp.verify(request=request, secrets=["other", "app-secret"], now=0)
    assert not whatsapp.verify(request=request, secrets=["other"], now=0)
    assert not whatsapp.verify(request=request, secrets=[], now=0)


def test_signature_missing_or_tampered_body_fails():
    good = meta_request(fixture_bytes("whatsapp", "text__basic"))
    missing = RawRequest(body=good.body, headers={}, url=good.url)
    tampered = RawRequest(body=good.body.replace(b"color", b"colour"), headers=good.headers, url=good.url)
    assert not whatsapp.verify(request=missing, secrets=["app-secret"], now=0)
    assert not whatsapp.verify(request=tampered, secrets=["app-secret"], now=0)


def test_an_empty_secret_never_verifies():
    request = meta_request(b"{}", secret="")
    assert not whatsapp.verify(request=request, secrets=[""], now=0)


def test_dedup_key_is_the_body_hash():
    body = fixture_bytes("whatsapp", "status__read")
    assert whatsapp.dedup_key(request=meta_request(body)) == whatsapp.dedup_key(request=meta_request(body, "x"))
    assert len(whatsapp.dedup_key(request=meta_request(body))) == 64


def test_handshake():
    params = {"hub.mode": "subscribe", "hub.verify_token": "tok\u00e9n", "hub.challenge": "1158201444"}
    assert whatsapp.handshake(params=params, verify_tokens=["x", "tok\u00e9n"]) == "1158201444"
    assert whatsapp.handshake(params=params, verify_tokens=["wrong"]) is None
    assert whatsapp.handshake(params={**params, "hub.mode": "unsubscribe"}, verify_tokens=["tok\u00e9n"]) is None
    assert whatsapp.handshake(params={**params, "hub.verify_token": ""}, verify_tokens=[""]) is None


# ---------------------------------------------------------------- hostile input


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_give_events_or_payload_error(body):
    parse_or_reject(whatsapp, meta_request(body))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["batch__multiple_entries", "status__failed", "location__basic", "image__caption",
                        "reaction__basic", "interactive__button_reply", "unknown__type"]).flatmap(
    lambda name: mutations(json.loads(fixture_bytes("whatsapp", name)))))
def test_mutated_payloads_give_events_or_payload_error(body):
    parse_or_reject(whatsapp, meta_request(body))


# ---------------------------------------------------------------- sending


def send(provider, http, **overrides):
    arguments = {
        "client": http,
        "base_url": provider.base_url,
        "config": {"phone_number_id": PNID},
        "secrets": {"access_token": "EAAG-token"},
        "to": "16505551234",
        "text": "Hello Sheena",
        "idempotency_key": "msg-42",
    } | overrides
    return whatsapp.send(**arguments)


def test_send_text_posts_the_cloud_api_shape(provider, http):
    provider.reply(200, {"messaging_product": "whatsapp", "contacts": [{"input": "16505551234", "wa_id": "16505551234"}],
                         "messages": [{"id": "wamid.SENT1"}]})
    result = send(provider, http)
    assert (result.ok, result.external_id, result.status_code) == (True, "wamid.SENT1", 200)
    request = provider.last
    assert request.path == f"/v21.0/{PNID}/messages"
    assert request.headers["authorization"] == "Bearer EAAG-token"
    assert request.json() == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "16505551234",
        "type": "text",
        "text": {"body": "Hello Sheena", "preview_url": False},
        "biz_opaque_callback_data": "msg-42",
    }


def test_send_template(provider, http):
    provider.reply(200, {"messages": [{"id": "wamid.T1", "message_status": "accepted"}]})
    components = [{"type": "body", "parameters": [{"type": "text", "text": "Sheena"}]}]
    result = send(provider, http, text="", template={"name": "follow_up", "language": "en_US", "components": components})
    assert result.external_id == "wamid.T1"
    body = provider.last.json()
    assert body["type"] == "template"
    assert body["template"] == {"name": "follow_up", "language": {"code": "en_US"}, "components": components}


GRAPH_ERROR = {"error": {"message": "(#131030) Recipient phone number not in allowed list", "type": "OAuthException",
                         "code": 131030, "fbtrace_id": "AbCdEf"}}


@pytest.mark.parametrize(
    ("status", "answer", "retryable", "code"),
    [
        (429, {"error": {"message": "Too many calls", "code": 80007}}, True, "80007"),
        (500, {"error": {"message": "Service unavailable", "code": 2}}, True, "2"),
        (503, b"<html>Bad gateway</html>", True, "503"),
        (400, GRAPH_ERROR, False, "131030"),
        (400, {"error": {"message": "(#130429) Rate limit hit", "code": 130429}}, True, "130429"),
    ],
)
def test_send_maps_provider_errors(provider, http, status, answer, retryable, code):
    provider.reply(status, answer)
    result = send(provider, http)
    assert (result.ok, result.retryable, result.status_code, result.error_code) == (False, retryable, status, code)
    if status == 400 and code == "131030":
        assert result.error_title == "(#131030) Recipient phone number not in allowed list"


def test_send_timeout_is_retryable(provider, http):
    provider.reply(200, {"messages": [{"id": "late"}]}, delay=1.0)
    result = send(provider, http)
    assert (result.ok, result.retryable, result.error_code) == (False, True, "ReadTimeout")


def test_send_to_a_closed_port_is_retryable(http):
    result = whatsapp.send(client=http, base_url=f"http://127.0.0.1:{free_port()}", config={"phone_number_id": PNID},
                           secrets={"access_token": "t"}, to="1", text="x", idempotency_key="k")
    assert (result.ok, result.retryable, result.error_code) == (False, True, "ConnectError")


def test_template_for_builds_positional_body_parameters_in_placeholder_order():
    template = whatsapp.template_for(name="order_ready", language="pt_PT", body="Olá {name}, {order} pronta, {name}!",
                                     variables={"order": "#42", "name": "Ada"})
    assert template == {"name": "order_ready", "language": "pt_PT", "components": [
        {"type": "body", "parameters": [{"type": "text", "text": "Ada"}, {"type": "text", "text": "#42"}]}]}
    assert whatsapp.template_for(name="hello", language="", body="Hello!", variables={}) == {
        "name": "hello", "language": "en_US", "components": []}
    assert whatsapp.template_for(name="", language="en_US", body="Hi {name}", variables={"name": "x"}) is None


@given(st.lists(st.from_regex(r"[a-z]{1,8}", fullmatch=True), min_size=1, max_size=6))
def test_template_for_has_one_parameter_per_distinct_placeholder(names):
    body = " ".join(f"{{{n}}}" for n in names)
    template = whatsapp.template_for(name="t", language="en_US", body=body, variables={n: n.upper() for n in names})
    [component] = template["components"]
    assert [p["text"] for p in component["parameters"]] == [n.upper() for n in dict.fromkeys(names)]


@pytest.mark.parametrize(("case", "ambiguous"), [
    ("connection refused", False),  # nothing left: safe to send again
    ("answer too late", True),  # Meta may have it: reconcile, never resend blind
    ("gateway 502 without a body", True),
    ("Meta's own 500 error", False),
])
def test_failures_say_whether_meta_may_have_the_message(provider, http, case, ambiguous):
    if case == "connection refused":
        result = send(provider, http, base_url=f"http://127.0.0.1:{free_port()}")
    elif case == "answer too late":
        provider.reply(200, {"messages": [{"id": "wamid.X"}]}, delay=0.6)  # the client reads for 0.3 s
        result = send(provider, http)
    elif case == "gateway 502 without a body":
        provider.reply(502, b"")
        result = send(provider, http)
    else:
        provider.reply(500, {"error": {"message": "Service unavailable", "code": 2}})
        result = send(provider, http)
    assert (result.ok, result.retryable, result.ambiguous) == (False, True, ambiguous)


def test_template_for_puts_the_declared_header_parameter_before_the_body():
    """Meta's send-time shape: a text header's parameter in a "header" component, then "body"."""
    template = whatsapp.template_for(name="order_shipped", language="en_US", body="Hi {name}, it ships {day}.",
                                     variables={"name": "Ada", "order": "#42", "day": "Monday"},
                                     header="Order {order}", header_format="text")
    assert template["components"] == [
        {"type": "header", "parameters": [{"type": "text", "text": "#42"}]},
        {"type": "body", "parameters": [{"type": "text", "text": "Ada"}, {"type": "text", "text": "Monday"}]},
    ]


@pytest.mark.parametrize("header_format", ["image", "video", "document"])
def test_template_for_sends_a_media_header_as_its_link(header_format):
    template = whatsapp.template_for(name="invoice", language="en_US", body="Your invoice.", variables={"invoice": "INV 7/ä"},
                                     header="https://cdn.example.com/invoices/{invoice}.pdf", header_format=header_format)
    assert template["components"] == [{"type": "header", "parameters": [
        {"type": header_format, header_format: {"link": "https://cdn.example.com/invoices/INV%207/%C3%A4.pdf"}}]}]


def test_template_for_without_header_parameters_has_no_header_component():
    for header in ("", "Your order is ready"):  # none, or a fixed text header: nothing to fill in at send time
        template = whatsapp.template_for(name="t", language="en_US", body="Hi {name}", variables={"name": "Ada"},
                                         header=header, header_format="text")
        assert [c["type"] for c in template["components"]] == ["body"]


def test_a_status_carries_our_correlation_id():
    payload = json.loads(fixture_bytes("whatsapp", "status__delivered"))
    payload["entry"][0]["changes"][0]["value"]["statuses"][0]["biz_opaque_callback_data"] = "switchboard-msg-42"
    [status] = whatsapp.parse(request=meta_request(json.dumps(payload).encode()))
    assert status.correlation_id == "switchboard-msg-42"
