import hashlib
import hmac
import re
from datetime import UTC, datetime
from email import message_from_bytes
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from platforms import email
from platforms.base import InboundMessage, OptOut, PayloadError, RawRequest, StatusUpdate

from .conftest import free_port
from .helpers import fixture_fields, form_request, multipart, parse_or_reject

KEY = "key-signing-0123456789"
NOW = 1749416383.0


def signed_fields(name: str, key: str = KEY, **extra) -> dict[str, str]:
    fields = fixture_fields("email", name) | extra
    fields["signature"] = hmac.new(key.encode(), (fields["timestamp"] + fields["token"]).encode(), hashlib.sha256).hexdigest()
    return fields


def parse(name: str):
    return email.parse(request=form_request(signed_fields(name)))


def test_inbound_mail():
    assert parse("inbound__basic") == [
        InboundMessage(
            channel_key="sales@inbox.example.com",
            external_id="<CAFx7w2s1kR9=abcDEF123@mail.example.org>",
            contact_id="bob.lee@example.org",
            timestamp=datetime.fromtimestamp(1749416383, UTC),
            text="Hello,\n\nCould you send a quote for 20 chairs?",
            contact_name="Bob Lee",
            subject="Quote for 20 chairs",
            raw_type="email",
        )
    ]


def test_reply_points_at_our_message_id_and_drops_the_quote():
    [message] = parse("inbound__reply")
    assert message.reply_to == "<f3a9c2e1-55b0-4c77-9d1e-2b8d7c1a0e11@switchboard>"
    assert (message.text, message.subject) == ("Looks good, let's go ahead.", "Re: Your quote")


OURS = "<switchboard-msg-42.0f1e2d3c4b5a6978@inbox.example.com>"


def test_a_reply_naming_our_message_id_also_says_that_mail_was_delivered():
    message, status = parse("inbound__reply_to_ours")
    assert (message.reply_to, message.text) == (OURS, "Thanks, received.")
    assert status == StatusUpdate(channel_key="sales@inbox.example.com", external_id=OURS, status="delivered",
                                  timestamp=message.timestamp, contact_id="bob.lee@example.org",
                                  correlation_id="switchboard-msg-42")


def test_a_reply_to_someone_elses_message_id_is_only_a_message():
    assert [type(e) for e in parse("inbound__reply")] == [InboundMessage]


def test_a_bounce_naming_our_message_id_fails_it_and_is_no_conversation_message():
    assert parse("bounce__delivery_status") == [
        StatusUpdate(channel_key="sales@inbox.example.com", external_id="<switchboard-msg-43.a1b2c3d4e5f60718@inbox.example.com>",
                     status="failed", timestamp=datetime.fromtimestamp(1749482144, UTC), error_code="bounced",
                     error_title="Delivery Status Notification (Failure)", correlation_id="switchboard-msg-43")
    ]


def test_a_bounce_with_a_null_sender_names_our_mail_in_its_text():
    """Postfix-style: no threading headers, the original Message-ID quoted in the report."""
    fields = signed_fields("bounce__delivery_status", sender="", **{"In-Reply-To": "", "References": "", "message-headers": "[]",
                           "Content-Type": "", "body-plain": f"Undelivered.\n\nMessage-ID: {OURS}\n"})
    [status] = email.parse(request=form_request(fields))
    assert (status.external_id, status.status, status.correlation_id) == (OURS, "failed", "switchboard-msg-42")


def test_unsubscribe_subject_opts_out():
    message, opt_out = parse("inbound__unsubscribe")
    assert opt_out == OptOut(channel_key="sales@inbox.example.com", contact_id="bob.lee@example.org", reason="keyword",
                             timestamp=message.timestamp)


def test_body_plain_when_there_is_no_stripped_text():
    fields = signed_fields("inbound__basic")
    del fields["stripped-text"]
    [message] = email.parse(request=form_request(fields))
    assert message.text.startswith("Hello,\n\nCould you") and message.text.endswith("Thanks,\nBob\n")


def test_multipart_posts_parse_the_same_and_skip_attachments():
    body, content_type = multipart(signed_fields("inbound__basic"))
    request = RawRequest(body=body, headers={"content-type": content_type}, url="")
    assert email.parse(request=request) == parse("inbound__basic")
    assert email.verify(request=request, secrets=[KEY], now=NOW)


def test_missing_recipient_is_a_payload_error():
    fields = signed_fields("inbound__basic")
    del fields["recipient"]
    with pytest.raises(PayloadError, match="recipient is missing"):
        email.parse(request=form_request(fields))


def test_message_id_falls_back_to_the_header_list_then_the_token():
    fields = signed_fields("inbound__basic")
    del fields["Message-Id"]
    assert email.parse(request=form_request(fields))[0].external_id == "<CAFx7w2s1kR9=abcDEF123@mail.example.org>"
    fields["message-headers"] = "[]"
    assert email.parse(request=form_request(fields))[0].external_id == f"mailgun:{fields['token']}"


# ---------------------------------------------------------------- signature and dedup


def test_signature_good_bad_missing():
    request = form_request(signed_fields("inbound__basic"))
    assert email.verify(request=request, secrets=["old-key", KEY], now=NOW)
    assert not email.verify(request=request, secrets=["old-key"], now=NOW)
    unsigned = signed_fields("inbound__basic")
    del unsigned["signature"]
    assert not email.verify(request=form_request(unsigned), secrets=[KEY], now=NOW)


def test_signature_with_tampered_token_fails():
    fields = signed_fields("inbound__basic")
    fields["token"] = fields["token"][:-1] + "0"
    assert not email.verify(request=form_request(fields), secrets=[KEY], now=NOW)


def test_old_or_future_timestamps_are_refused():
    request = form_request(signed_fields("inbound__basic"))
    assert email.verify(request=request, secrets=[KEY], now=NOW + 299)
    assert not email.verify(request=request, secrets=[KEY], now=NOW + 301)
    assert not email.verify(request=request, secrets=[KEY], now=NOW - 301)


def test_dedup_key_is_the_message_id_of_that_sender_and_ignores_the_signature():
    fields = signed_fields("inbound__basic")
    key = email.dedup_key(request=form_request(fields))
    assert "<CAFx7w2s1kR9=abcDEF123@mail.example.org>" in key and fields["sender"].lower() in key
    assert email.dedup_key(request=form_request({**fields, "sender": "mallory@example.net"})) != key
    # Mailgun signs each retry anew: without a Message-Id the rest of the fields decide.
    retry = {"recipient": "a@b.c", "body-plain": "hi", "timestamp": "1", "token": "t1", "signature": "s1"}
    assert email.dedup_key(request=form_request(retry)) == email.dedup_key(
        request=form_request({**retry, "timestamp": "2", "token": "t2", "signature": "s2"}))


def test_the_token_is_the_replay_token():
    assert email.replay_token(request=form_request(signed_fields("inbound__basic"))) == signed_fields("inbound__basic")["token"]
    assert email.replay_token(request=form_request({"recipient": "a@b.c"})) == ""


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000), st.sampled_from(["application/x-www-form-urlencoded", "multipart/form-data; boundary=xyz",
                                                  "multipart/form-data", "multipart/form-data; boundary=\"\\\""]))
def test_random_bytes_give_events_or_payload_error(body, content_type):
    parse_or_reject(email, RawRequest(body=body, headers={}, url="", content_type=content_type))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=10), st.text(max_size=30), max_size=6))
def test_random_multipart_fields_give_events_or_payload_error(fields):
    body, content_type = multipart(fields)
    parse_or_reject(email, RawRequest(body=body, headers={}, url="", content_type=content_type))


KEYS = ["recipient", "sender", "from", "subject", "body-plain", "stripped-text", "Message-Id", "In-Reply-To",
        "message-headers", "timestamp", "token", "signature", "Date"]


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(KEYS), st.text(max_size=30) | st.sampled_from(["a@b.c", "[[\"Date\", 1]]", "1e400"]),
                       max_size=12))
def test_random_fields_give_events_or_payload_error(fields):
    parse_or_reject(email, RawRequest(body=urlencode(fields).encode(), headers={}, url=""))


# ---------------------------------------------------------------- sending


def config(server, **extra):
    return {"smtp_host": server.host, "smtp_port": server.port, "from_address": "Sales <sales@inbox.example.com>",
            "subject": "Your quote", "smtp_timeout": 2} | extra


def test_send_delivers_over_smtp_with_our_message_id(smtp_server):
    result = email.send(config=config(smtp_server), secrets={}, to="bob.lee@example.org", text="Here it is.",
                        idempotency_key="switchboard-msg-42")
    assert result.ok and re.fullmatch(r"<switchboard-msg-42\.[0-9a-f]{16}@inbox\.example\.com>", result.external_id)
    [envelope] = smtp_server.envelopes
    assert (envelope.mail_from, envelope.rcpt_tos) == ("sales@inbox.example.com", ["bob.lee@example.org"])
    mail = message_from_bytes(envelope.original_content)
    assert (mail["Message-ID"], mail["Subject"], mail["To"]) == (result.external_id, "Your quote", "bob.lee@example.org")
    assert mail.get_content_type() == "text/plain" and mail.get_payload(decode=True).decode().strip() == "Here it is."
    again = email.send(config=config(smtp_server), secrets={}, to="bob.lee@example.org", text="x", idempotency_key="k")
    assert again.external_id != result.external_id  # unique worldwide, whoever else runs Switchboard


def test_template_for_fills_the_subject_and_escapes_values_in_the_html():
    template = email.template_for(name="", language="", body="Hi {name}", variables={"name": "Ada <3", "n": 2},
                                  subject="Your {n} chairs", html_body="<p>Hi <b>{name}</b></p>")
    assert template == {"subject": "Your 2 chairs", "html": "<p>Hi <b>Ada &lt;3</b></p>"}
    assert email.template_for(name="x", language="", body="Hi", variables={}) is None  # the channel's subject


def test_a_template_with_html_goes_out_as_plain_text_then_html(smtp_server):
    template = {"subject": "Your quote", "html": "<p>Here it is, <b>Ada</b>.</p>"}
    email.send(config=config(smtp_server, subject="Channel subject"), secrets={}, to="ada@example.org",
               text="Here it is, Ada.", template=template, idempotency_key="k6")
    mail = message_from_bytes(smtp_server.envelopes[0].original_content)
    assert (mail.get_content_type(), mail["Subject"]) == ("multipart/alternative", "Your quote")
    parts = [(part.get_content_type(), part.get_payload(decode=True).decode().strip()) for part in mail.get_payload()]
    assert parts == [("text/plain", "Here it is, Ada."), ("text/html", "<p>Here it is, <b>Ada</b>.</p>")]


def test_a_reply_in_a_thread_keeps_the_threads_subject_over_the_templates(smtp_server):
    thread = {"subject": "Re: Quote for 20 chairs", "in_reply_to": "<a@mail.example.org>", "references": "<a@mail.example.org>"}
    email.send(config=config(smtp_server, **thread), secrets={}, to="bob@example.org", text="Hi",
               template={"subject": "Our offer"}, idempotency_key="k7")
    assert message_from_bytes(smtp_server.envelopes[0].original_content)["Subject"] == "Re: Quote for 20 chairs"


def test_send_template_sets_subject(smtp_server):
    email.send(config=config(smtp_server), secrets={}, to="bob@example.org", template={"subject": "Follow-up", "text": "Hi"},
               idempotency_key="k2")
    assert message_from_bytes(smtp_server.envelopes[0].original_content)["Subject"] == "Follow-up"


@pytest.mark.parametrize(("reply", "retryable", "code"), [("550 5.1.1 No such user", False, "550"),
                                                          ("451 4.3.0 Try again later", True, "451")])
def test_refused_recipient(smtp_server, reply, retryable, code):
    smtp_server.rcpt_reply = reply
    result = email.send(config=config(smtp_server), secrets={}, to="nobody@example.org", text="x", idempotency_key="k3")
    assert (result.ok, result.retryable, result.error_code) == (False, retryable, code)
    assert reply[4:] in result.error_title


def test_a_server_slow_to_answer_data_may_have_the_message(smtp_server):
    """The server took the message but answered after our timeout: delivery unknown (reconciled from
    a reply or bounce naming the Message-ID, which the result keeps), never resent blind."""
    smtp_server.data_delay = 0.8
    result = email.send(config=config(smtp_server, smtp_timeout=0.5), secrets={}, to="bob@example.org", text="x",
                        idempotency_key="switchboard-msg-9")
    assert (result.ok, result.retryable, result.ambiguous) == (False, True, True), result
    assert result.external_id == message_from_bytes(smtp_server.envelopes[0].original_content)["Message-ID"]


def test_unreachable_server_is_retryable():
    result = email.send(config={"smtp_host": "127.0.0.1", "smtp_port": free_port(), "from_address": "a@b.c", "smtp_timeout": 1},
                        secrets={}, to="bob@example.org", text="x", idempotency_key="k4")
    assert (result.ok, result.retryable) == (False, True)


def test_header_injection_is_refused_without_retry():
    result = email.send(config={"smtp_host": "127.0.0.1", "smtp_port": 1, "from_address": "a@b.c"}, secrets={},
                        to="bob@example.org\r\nBcc: everyone@example.org", text="x", idempotency_key="k5")
    assert (result.ok, result.retryable, result.error_code) == (False, False, "invalid_message")
