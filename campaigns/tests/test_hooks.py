"""What the inbox tells campaigns: statuses move recipients forward; replies and engagement move
lead scores, and waiting messages take the new score as priority."""
from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.hooks import on_message_status
from campaigns.models import CampaignRecipient
from campaigns.tests.world import make_campaign, make_contact, start, utc, wall
from inbox.models import ContactIdentity, Message
from inbox.services.messages import message_receive
from inbox.services.outbound import dispatch_due_messages
from inbox.tests.factories import make_channel, make_rep, make_rep_channel
from platforms.base import InboundMessage


@pytest.fixture
def sent_campaign(db):
    channel = make_channel()
    make_rep_channel(make_rep(), channel)
    contact = make_contact(tags=["hot"])
    later = make_contact(tags=["hot"])
    campaign = make_campaign(channel, start=wall(2026, 6, 1, 9), end=wall(2026, 6, 9, 17),
                             slots=[{"start_at": wall(2026, 6, 1, 9), "end_at": wall(2026, 6, 1, 10)},
                                    {"start_at": wall(2026, 6, 8, 9), "end_at": wall(2026, 6, 8, 10)}])
    start(campaign, now=utc(2026, 5, 31))
    CampaignRecipient.objects.filter(contact=later).update(slot=None)  # planned for later: still waiting
    Message.objects.filter(conversation__contact=later).update(due_at=utc(2026, 6, 8, 9))
    dispatch_due_messages(max_seconds=60, now=utc(2026, 6, 1, 9, 5))
    return {"channel": channel, "campaign": campaign, "contact": contact, "later": later}


def test_statuses_move_the_recipient_forward_only_and_engagement_raises_the_score(sent_campaign):
    row = CampaignRecipient.objects.get(contact=sent_campaign["contact"])
    assert (row.state, row.sent_at) == ("sent", utc(2026, 6, 1, 9, 5))
    on_message_status(recipient_id=row.id, status="read")
    on_message_status(recipient_id=row.id, status="delivered")
    row.refresh_from_db()
    assert row.state == "read"
    sent_campaign["contact"].refresh_from_db()
    assert sent_campaign["contact"].lead_score == 15 + 1 + 3  # hot, delivered, read
    on_message_status(recipient_id=row.id, status="failed")
    row.refresh_from_db()
    assert row.state == "read"  # a read message does not fail afterwards


def test_a_reply_rescores_the_contact_and_reprioritises_waiting_messages(sent_campaign):
    later = sent_campaign["later"]
    waiting = Message.objects.get(conversation__contact=later)
    assert (waiting.status, waiting.priority) == ("queued", 0)  # queued before any score
    ContactIdentity.objects.create(contact=later, channel=sent_campaign["channel"], external_id="later-1")
    at = timezone.now() - timedelta(minutes=1)
    message_receive(channel=sent_campaign["channel"], event=InboundMessage(
        channel_key="", external_id="in-1", contact_id="later-1", timestamp=at, text="call me"))
    later.refresh_from_db()
    assert later.lead_score == 40 + 5 + 15  # replied just now, one reply, hot
    waiting.refresh_from_db()
    assert waiting.priority == later.lead_score


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_reply_outside_any_campaign_is_rescored_by_a_worker(celery_worker_proc):
    import time as clock

    from inbox.models import Contact
    from inbox.tests.factories import make_channel, make_conversation, make_rep, make_rep_channel

    rep, channel = make_rep(), make_channel()
    make_rep_channel(rep, channel)
    contact = make_conversation(rep, channel, external_id="solo-1").contact
    assert contact.lead_score == 0
    message_receive(channel=channel, event=InboundMessage(channel_key="", external_id="solo-in-1", contact_id="solo-1",
                                                          timestamp=timezone.now(), text="hello?"))
    deadline = clock.monotonic() + 30
    while Contact.objects.get(pk=contact.pk).lead_score == 0 and clock.monotonic() < deadline:
        clock.sleep(0.1)
    assert Contact.objects.get(pk=contact.pk).lead_score > 0


@pytest.mark.django_db
def test_a_burst_of_replies_outside_campaigns_costs_one_rescore_task(django_capture_on_commit_callbacks):
    from campaigns.models import PendingRescore
    from campaigns.services.scores import pending_rescore_drain
    from inbox.models import Contact
    from inbox.tests.factories import make_channel, make_conversation, make_rep, make_rep_channel

    rep, channel = make_rep(), make_channel()
    make_rep_channel(rep, channel)
    contacts = [make_conversation(rep, channel, external_id=f"burst-{n}").contact for n in range(20)]
    with django_capture_on_commit_callbacks() as callbacks:
        for n in range(len(contacts)):
            message_receive(channel=channel, event=InboundMessage(channel_key="", external_id=f"burst-in-{n}",
                                                                  contact_id=f"burst-{n}", timestamp=timezone.now(), text="hi"))
    enqueues = [c for c in callbacks if getattr(c, "task_name", None) == "campaigns.tasks.rescore_pending"]
    assert len(enqueues) == 1  # one task for the whole burst, not twenty
    assert PendingRescore.objects.count() == 20
    assert pending_rescore_drain(batch=7) == 20
    assert PendingRescore.objects.count() == 0
    assert all(score > 0 for score in Contact.objects.filter(pk__in=[c.pk for c in contacts]).values_list("lead_score", flat=True))
