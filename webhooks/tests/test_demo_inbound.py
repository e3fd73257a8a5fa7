"""`manage.py demo_inbound`: a demo contact writes in through the running app's real endpoint, signed
like the platform; bad input stops it with a message naming what is wrong."""
from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from conftest import _free_port
from inbox.models import Message
from inbox.tests.factories import make_channel


@pytest.mark.django_db(transaction=True)
def test_demo_inbound_makes_a_demo_contact_write_in(asgi_server, settings, capsys):
    settings.DEBUG = True
    call_command("seed_demo")
    for kind in ("whatsapp", "sms", "email", "service", "instagram"):
        call_command("demo_inbound", kind, f"Hello from {kind}", url=asgi_server)
        out = capsys.readouterr().out
        assert f"POST {asgi_server}/webhooks/{kind}/ → 200: accepted and stored as webhook event" in out, out
        message = Message.objects.select_related("conversation__contact", "conversation__rep__user").get(
            body__endswith=f"Hello from {kind}")
        rep = message.conversation.rep
        assert f"processed: the message is in the inbox of {rep.full_name} (sign in as {rep.user.username})" in out, out
        assert message.channel.name == f"Demo {kind}" and message.direction == "in"
        if kind in ("whatsapp", "email", "service"):  # the platforms whose payloads carry a name
            assert message.conversation.contact.name == "Demo Contact"


@pytest.mark.django_db
def test_demo_inbound_says_what_is_wrong(settings):
    with pytest.raises(CommandError, match="unknown platform 'telegram': use one of whatsapp"):
        call_command("demo_inbound", "telegram", "Hi")
    with pytest.raises(CommandError, match="there is no channel named 'Demo whatsapp': run `manage.py seed_demo`"):
        call_command("demo_inbound", "whatsapp", "Hi")
    make_channel("sms", name="Demo whatsapp", routing_key="+14155550100", secrets={"auth_token": "t"})
    with pytest.raises(CommandError, match="is a sms channel, not whatsapp"):
        call_command("demo_inbound", "whatsapp", "Hi")
    make_channel("whatsapp", name="Bare", routing_key="1", secrets={"verify_token": "v"})
    with pytest.raises(CommandError, match="has no app_secret secret"):
        call_command("demo_inbound", "whatsapp", "Hi", channel="Bare")
    make_channel("whatsapp", name="Ready", routing_key="2", secrets={"app_secret": "s"})
    with pytest.raises(CommandError, match="text is empty"):
        call_command("demo_inbound", "whatsapp", "  ", channel="Ready")
    with pytest.raises(CommandError, match="must start with http"):
        call_command("demo_inbound", "whatsapp", "Hi", channel="Ready", url="ftp://x")
    port = _free_port()  # nothing listens there
    with pytest.raises(CommandError, match="Is the app running"):
        call_command("demo_inbound", "whatsapp", "Hi", channel="Ready", url=f"http://127.0.0.1:{port}")
