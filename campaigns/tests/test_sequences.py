"""Sequences: follow-ups after a delay unless the contact replied (or read), escalation to the
contact's other channel, a reply on any channel stopping the sequence at once, each step once."""
from datetime import time, timedelta

import pytest
from django.db import IntegrityError

from campaigns.models import CampaignRecipient
from campaigns.services.campaigns import campaigns_advance
from campaigns.services.sequences import followups_plan
from campaigns.tests.world import make_campaign, make_contact, message_of, start, utc, wall
from inbox.models import ContactIdentity
from inbox.services.messages import message_apply_status, message_receive
from inbox.services.outbound import dispatch_due_messages
from inbox.tests.factories import make_channel, make_rep, make_rep_channel
from platforms.base import InboundMessage, StatusUpdate

START = utc(2026, 6, 1, 9)


@pytest.fixture
def setup(db):
    whatsapp_like = make_channel(name="main")
    sms = make_channel("sms", name="texts")
    rep = make_rep()
    make_rep_channel(rep, whatsapp_like)
    make_rep_channel(rep, sms)
    return {"channel": whatsapp_like, "sms": sms, "rep": rep}


def campaign_with_steps(channel, *steps):
    campaign = make_campaign(channel, start=wall(2026, 6, 1, 9), end=wall(2026, 6, 1, 17),
                             steps=[{"number": n, **s} for n, s in enumerate(steps, start=1)])
    start(campaign, now=START - timedelta(hours=1))
    dispatch_due_messages(max_seconds=60, now=START)
    return campaign


def row(campaign, contact, step):
    return CampaignRecipient.objects.filter(campaign=campaign, contact=contact, step=step).first()


def reply(channel, contact, at, text="yes please"):
    identity, _ = ContactIdentity.objects.get_or_create(contact=contact, channel=channel, defaults={"external_id": f"c{contact.id}"})
    message_receive(channel=channel, event=InboundMessage(channel_key=channel.routing_key, external_id=f"in-{contact.id}-{at:%s}",
                                                          contact_id=identity.external_id, timestamp=at, text=text))


def test_a_follow_up_goes_after_the_delay_when_the_contact_has_not_replied_and_only_once(setup):
    contact = make_contact()
    campaign = campaign_with_steps(setup["channel"], {"delay_hours": 24, "text": "Any questions, {first_name}?"})
    assert row(campaign, contact, 0).state == "sent"
    assert followups_plan(now=START + timedelta(hours=23)) == 0
    assert followups_plan(now=START + timedelta(hours=24, minutes=5)) == 1
    follow_up = row(campaign, contact, 1)
    message = message_of(follow_up)
    assert (follow_up.state, follow_up.not_before, message.status) == ("scheduled", START + timedelta(hours=24), "queued")
    assert message.body.startswith("Any questions, Contact") and message.conversation == message_of(row(campaign, contact, 0)).conversation
    assert followups_plan(now=START + timedelta(hours=30)) == 0  # (contact, campaign, step) at most once
    dispatch_due_messages(max_seconds=60, now=START + timedelta(hours=25))
    assert row(campaign, contact, 1).state == "sent"
    with pytest.raises(IntegrityError):
        CampaignRecipient.objects.create(campaign=campaign, contact=contact, step=1)


def test_a_reply_on_any_channel_stops_the_sequence_at_once(setup):
    replied_early, replied_late, silent = make_contact(), make_contact(), make_contact()
    campaign = campaign_with_steps(setup["channel"], {"delay_hours": 24}, {"delay_hours": 24})
    reply(setup["sms"], replied_early, START + timedelta(hours=2))  # on another channel, before step 1 is planned
    assert followups_plan(now=START + timedelta(hours=25)) == 2
    assert (row(campaign, replied_early, 1).state, row(campaign, replied_early, 1).reason) == ("cancelled", "contact replied")
    assert row(campaign, replied_early, 1).message_id is None
    planned = row(campaign, replied_late, 1)
    assert planned.state == "scheduled"
    reply(setup["channel"], replied_late, START + timedelta(hours=25, minutes=1))  # step 1 is queued: withdrawn now
    planned.refresh_from_db()
    assert (planned.state, planned.reason) == ("cancelled", "contact replied")
    assert message_of(planned).status == "cancelled"
    dispatch_due_messages(max_seconds=60, now=START + timedelta(hours=26))
    assert row(campaign, silent, 1).state == "sent"
    assert message_of(planned).status == "cancelled"  # never sent
    assert row(campaign, replied_early, 0).replied_at == START + timedelta(hours=2)
    followups_plan(now=START + timedelta(hours=60))
    assert row(campaign, replied_late, 2) is None and row(campaign, replied_early, 2) is None
    assert row(campaign, silent, 2).state == "scheduled"


def test_escalation_channel_and_delay_come_from_the_contacts_preferences(setup):
    contact = make_contact(preferences={"escalation_channels": ["sms"], "escalation_delay_hours": 2})
    ContactIdentity.objects.create(contact=contact, channel=setup["sms"], external_id="+15550001111")
    plain = make_contact()
    campaign = campaign_with_steps(setup["channel"], {"delay_hours": 24})
    assert followups_plan(now=START + timedelta(hours=2, minutes=1)) == 1
    follow_up = row(campaign, contact, 1)
    assert follow_up.channel == setup["sms"] and message_of(follow_up).channel == setup["sms"]
    assert message_of(follow_up).conversation.channel == setup["sms"]
    assert row(campaign, plain, 1) is None  # its step waits the step's own 24 hours
    followups_plan(now=START + timedelta(hours=24, minutes=1))
    assert row(campaign, plain, 1).channel == setup["channel"]


def test_stop_on_read_ends_the_sequence_when_the_message_was_read(setup):
    reader, ignorer = make_contact(), make_contact()
    campaign = campaign_with_steps(setup["channel"], {"delay_hours": 1, "stop_on": "read"})
    first = message_of(row(campaign, reader, 0))
    message_apply_status(channel=setup["channel"], event=StatusUpdate(channel_key="x", external_id=first.external_id,
                                                                      status="read", timestamp=START + timedelta(minutes=5)))
    assert row(campaign, reader, 0).state == "read"
    followups_plan(now=START + timedelta(hours=2))
    assert (row(campaign, reader, 1).state, row(campaign, reader, 1).reason) == ("cancelled", "message read")
    assert row(campaign, ignorer, 1).state == "scheduled"


def test_a_follow_up_obeys_the_contacts_allowed_hours_and_opt_out(setup):
    contact = make_contact(timezone="Europe/Paris", allowed_start=time(9), allowed_end=time(12))
    leaver = make_contact()
    campaign = campaign_with_steps(setup["channel"], {"delay_hours": 8})
    type(leaver).objects.filter(pk=leaver.pk).update(opted_out=True)
    followups_plan(now=START + timedelta(hours=8, minutes=30))  # 19:30 in Paris
    follow_up = row(campaign, contact, 1)
    assert (follow_up.window_start, follow_up.window_end) == (utc(2026, 6, 2, 7), utc(2026, 6, 2, 10))  # 09:00-12:00 CEST
    assert message_of(follow_up).due_at == utc(2026, 6, 2, 7)
    assert (row(campaign, leaver, 1).state, row(campaign, leaver, 1).reason) == ("cancelled", "contact opted out")


def test_the_campaign_completes_once_no_step_is_left(setup):
    make_contact()
    campaign = campaign_with_steps(setup["channel"], {"delay_hours": 1})
    campaigns_advance(now=START + timedelta(minutes=30))
    campaign.refresh_from_db()
    assert campaign.status == "running"  # step 1 still to come
    followups_plan(now=START + timedelta(hours=1, minutes=1))
    dispatch_due_messages(max_seconds=60, now=START + timedelta(hours=1, minutes=2))
    campaigns_advance(now=START + timedelta(hours=2))
    campaign.refresh_from_db()
    assert (campaign.status, campaign.finished_at) == ("completed", START + timedelta(hours=2))
