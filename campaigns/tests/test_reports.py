"""The daily statistics e-mail: received over real SMTP on loopback, with the right figures."""
import socket
from datetime import timedelta
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller
from celery.schedules import crontab
from django.utils import timezone

from campaigns.models import Campaign, CampaignRecipient
from campaigns.services.reports import stats_email_send
from campaigns.tasks import daily_stats_email
from campaigns.tests.world import make_campaign, make_contact, start, wall
from inbox.services.messages import message_apply_status
from inbox.services.outbound import dispatch_due_messages
from inbox.tests.factories import make_channel, make_rep, make_rep_channel
from platforms.base import StatusUpdate


class Inbox:
    def __init__(self):
        self.received = []

    async def handle_DATA(self, server, session, envelope):
        self.received.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp(settings):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", port, False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.STATS_EMAIL_TO = ["boss@example.com", "ops@example.com"]
    settings.DEFAULT_FROM_EMAIL = "switchboard@example.com"
    yield inbox
    controller.stop()


def hour(at):
    return at.replace(minute=5, second=0, microsecond=0)


@pytest.mark.django_db
def test_the_daily_email_arrives_with_the_past_days_figures(smtp):
    now = timezone.now()
    channel = make_channel()
    make_rep_channel(make_rep(), channel)
    window = {"start": wall(*now.timetuple()[:3]) - timedelta(days=2), "end": wall(*now.timetuple()[:3]) + timedelta(days=2)}
    sends = {"Alpha": (2, hour(now - timedelta(hours=20))), "Bravo": (3, hour(now - timedelta(hours=10))),
             "Charlie": (1, hour(now - timedelta(hours=5)))}
    for name, (count, at) in sends.items():
        for _ in range(count):
            make_contact(tags=[name])
        campaign = make_campaign(channel, name=name, audience={"tags_any": [name]}, **window)
        start(campaign, now=at - timedelta(minutes=1))
        dispatch_due_messages(max_seconds=60, now=at)
    old = make_campaign(channel, name="Last week", **window)  # created before the day reported
    Campaign.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=3))
    messages = [recipient.message_id for recipient in CampaignRecipient.objects.order_by("id")]
    from inbox.models import Message

    for message_id, status in zip(messages, ["delivered", "read", "delivered", "delivered"], strict=False):
        external_id = Message.objects.get(pk=message_id).external_id
        message_apply_status(channel=channel, event=StatusUpdate(channel_key="", external_id=external_id, status=status,
                                                                 timestamp=now - timedelta(hours=1)))

    daily_stats_email.run()

    [envelope] = smtp.received
    assert sorted(envelope.rcpt_tos) == ["boss@example.com", "ops@example.com"]
    mail = message_from_bytes(envelope.content)
    assert mail["From"] == "switchboard@example.com"
    assert mail["Subject"] == f"Switchboard daily campaign statistics {now:%Y-%m-%d}"
    body = mail.get_payload(decode=True).decode().replace("\r\n", "\n")
    busiest = sends["Bravo"][1].hour
    assert "Campaigns created: 3\n  - Alpha\n  - Bravo\n  - Charlie\n" in body
    assert "Last week" not in body
    assert "Messages sent: 6\n" in body
    assert "Delivered: 4\n" in body
    assert "Delivery rate: 66.7%\n" in body
    assert f"Busiest hour: {busiest:02d}:00-{(busiest + 1) % 24:02d}:00 UTC (3 sent)\n" in body


@pytest.mark.django_db
def test_nothing_to_report_still_sends_and_no_recipients_sends_nothing(smtp, settings):
    figures = stats_email_send()
    assert figures["messages_sent"] == 0
    body = message_from_bytes(smtp.received[0].content).get_payload(decode=True).decode()
    assert "Delivery rate: n/a (nothing sent)" in body and "Busiest hour: n/a" in body
    settings.STATS_EMAIL_TO = []
    assert stats_email_send() is None
    assert len(smtp.received) == 1


def test_beat_sends_it_at_seven_utc_and_runs_the_recycler():
    from config.celery import app

    schedule = app.conf.beat_schedule
    daily = schedule["campaigns-daily-stats"]
    assert daily["task"] == "campaigns.tasks.daily_stats_email"
    assert daily["schedule"] == crontab(hour=7, minute=0)
    assert app.conf.timezone == "UTC"
    assert schedule["campaigns-recycle-slots"]["task"] == "campaigns.tasks.recycle_slots"
    assert schedule["campaigns-plan-followups"]["task"] == "campaigns.tasks.plan_followups"
