"""A template's header, subject and HTML as they reach the providers: dispatch against loopback fakes
of the Cloud API and of an SMTP server (platforms/tests/conftest.py), checked against the shapes
Meta documents for send-time template components and RFC 2046 multipart/alternative."""
from email import message_from_bytes

import pytest
from django.utils import timezone

from inbox.models import Message, Template
from inbox.services.outbound import dispatch_due_messages
from inbox.tests.factories import make_channel, make_conversation, make_rep, make_rep_channel
from platforms.tests.conftest import provider, smtp_server  # noqa: F401 - the loopback provider fixtures


def _queue(conversation, template, variables, body):
    return Message.objects.create(conversation=conversation, channel=conversation.channel, direction="out",
                                  status="queued", template=template, variables=variables, body=body, due_at=timezone.now())


def _whatsapp_conversation(provider):  # noqa: F811
    channel = make_channel("whatsapp", config={"phone_number_id": "106540352242922", "api_base_url": provider.base_url},
                           secrets={"access_token": "token-1", "app_secret": "s"})
    make_rep_channel(make_rep(), channel, sandbox=False)
    return make_conversation(channel.rep_channels.get().rep, channel, external_id="351911111111")


@pytest.mark.django_db
def test_a_whatsapp_template_with_a_header_parameter_sends_the_header_component_before_the_body(provider):  # noqa: F811
    provider.reply(200, {"messaging_product": "whatsapp", "messages": [{"id": "wamid.H1"}]})
    template = Template.objects.create(name="shipped", body="Hi {name}, order {order} ships {day}.", whatsapp_name="order_shipped",
                                       whatsapp_language="en_GB", whatsapp_header="Order {order}", whatsapp_header_format="text")
    message = _queue(_whatsapp_conversation(provider), template, {"name": "Ada", "order": "#42", "day": "Monday"},
                     "Hi Ada, order #42 ships Monday.")
    dispatch_due_messages(max_seconds=30, batch=10)

    message.refresh_from_db()
    assert (message.status, message.external_id) == ("sent", "wamid.H1")
    assert provider.last.json() == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": "351911111111", "type": "template",
        "template": {"name": "order_shipped", "language": {"code": "en_GB"}, "components": [
            {"type": "header", "parameters": [{"type": "text", "text": "#42"}]},
            {"type": "body", "parameters": [{"type": "text", "text": "Ada"}, {"type": "text", "text": "#42"},
                                            {"type": "text", "text": "Monday"}]},
        ]},
        "biz_opaque_callback_data": f"switchboard-msg-{message.id}",
    }


@pytest.mark.django_db
def test_a_whatsapp_template_with_a_document_header_sends_its_link(provider):  # noqa: F811
    provider.reply(200, {"messages": [{"id": "wamid.H2"}]})
    template = Template.objects.create(name="invoice", body="Your invoice is attached.", whatsapp_name="invoice_ready",
                                       whatsapp_header="https://cdn.example.com/invoices/{invoice}.pdf",
                                       whatsapp_header_format="document")
    _queue(_whatsapp_conversation(provider), template, {"invoice": "INV-7"}, "Your invoice is attached.")
    dispatch_due_messages(max_seconds=30, batch=10)

    assert provider.last.json()["template"] == {"name": "invoice_ready", "language": {"code": "en_US"}, "components": [
        {"type": "header", "parameters": [{"type": "document", "document": {"link": "https://cdn.example.com/invoices/INV-7.pdf"}}]}]}


@pytest.mark.django_db
def test_an_email_template_sends_its_subject_and_plain_text_plus_html(smtp_server):  # noqa: F811
    channel = make_channel("email", config={"smtp_host": smtp_server.host, "smtp_port": smtp_server.port,
                                            "from_address": "Sales <sales@inbox.example.com>", "subject": "A message from us"})
    make_rep_channel(make_rep(), channel, sandbox=False)
    conversation = make_conversation(channel.rep_channels.get().rep, channel, external_id="ada@example.org")
    template = Template.objects.create(name="quote", body="Hi {name}, your quote: {total}.", subject="Your quote, {name}",
                                       html_body="<p>Hi {name}, your quote: <b>{total}</b>.</p>")
    message = _queue(conversation, template, {"name": "Ada <Lovelace>", "total": "€ 1,200"},
                     "Hi Ada <Lovelace>, your quote: € 1,200.")
    dispatch_due_messages(max_seconds=30, batch=10)

    message.refresh_from_db()
    assert message.status == "sent", (message.status, message.error_code, message.error_title)
    [envelope] = smtp_server.envelopes
    mail = message_from_bytes(envelope.original_content)
    assert envelope.rcpt_tos == ["ada@example.org"]
    assert (mail["Subject"], mail["Message-ID"], mail.get_content_type()) == (
        "Your quote, Ada <Lovelace>", message.external_id, "multipart/alternative")
    parts = [(part.get_content_type(), part.get_payload(decode=True).decode("utf-8").strip()) for part in mail.get_payload()]
    assert parts == [("text/plain", "Hi Ada <Lovelace>, your quote: € 1,200."),
                     ("text/html", "<p>Hi Ada &lt;Lovelace&gt;, your quote: <b>€ 1,200</b>.</p>")]


@pytest.mark.django_db
def test_an_email_template_without_subject_or_html_keeps_the_channels_subject_and_plain_text(smtp_server):  # noqa: F811
    channel = make_channel("email", config={"smtp_host": smtp_server.host, "smtp_port": smtp_server.port,
                                            "from_address": "sales@inbox.example.com", "subject": "A message from us"})
    make_rep_channel(make_rep(), channel, sandbox=False)
    conversation = make_conversation(channel.rep_channels.get().rep, channel, external_id="ada@example.org")
    _queue(conversation, Template.objects.create(name="hello", body="Hello {name}"), {"name": "Ada"}, "Hello Ada")
    dispatch_due_messages(max_seconds=30, batch=10)

    mail = message_from_bytes(smtp_server.envelopes[0].original_content)
    assert (mail["Subject"], mail.get_content_type(), mail.get_payload(decode=True).decode().strip()) == (
        "A message from us", "text/plain", "Hello Ada")
