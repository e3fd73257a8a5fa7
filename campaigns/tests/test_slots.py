"""Slot campaigns: recipients not reached in their slot move to the next one; forgotten leads
get another attempt in the next slot."""
import pytest

from campaigns.models import CampaignRecipient, CampaignSlot
from campaigns.services.slots import forgotten_leads_recover, recipients_recycle
from campaigns.tests.world import make_campaign, make_contact, message_of, start, utc, wall
from inbox.models import Conversation, Message
from inbox.services.outbound import dispatch_due_messages
from inbox.tests.factories import make_channel, make_conversation, make_rep, make_rep_channel


@pytest.fixture
def channel(db):
    channel = make_channel()
    make_rep_channel(make_rep(), channel, capacity=2)
    return channel


def slot_campaign(channel, days=2, **fields):
    slots = [{"start_at": wall(2026, 6, d, 9), "end_at": wall(2026, 6, d, 12)} for d in range(1, days + 1)]
    return make_campaign(channel, start=wall(2026, 6, 1), end=wall(2026, 6, 10), slots=slots, **fields)


def test_recipients_not_reached_in_their_slot_are_recycled_into_the_next(channel):
    contacts = [make_contact(lead_score=score) for score in (40, 30, 20, 10)]
    campaign = slot_campaign(channel)
    first, second = CampaignSlot.objects.filter(campaign=campaign).order_by("start_at")
    start(campaign, now=utc(2026, 5, 31))
    assert set(CampaignRecipient.objects.values_list("slot_id", flat=True)) == {first.id}
    dispatch_due_messages(max_seconds=60, now=utc(2026, 6, 1, 9))
    reached = set(CampaignRecipient.objects.filter(state="sent").values_list("contact_id", flat=True))
    assert reached == {contacts[0].id, contacts[1].id}  # capacity 2: the best two

    assert recipients_recycle(now=utc(2026, 6, 1, 12, 1)) == {"recycled": 2, "skipped": 0}
    for recipient in CampaignRecipient.objects.filter(state="scheduled"):
        message = message_of(recipient)
        assert recipient.slot_id == second.id
        assert (recipient.window_start, recipient.window_end) == (utc(2026, 6, 2, 9), utc(2026, 6, 2, 12))
        assert (message.status, message.due_at) == ("deferred", utc(2026, 6, 2, 9))
        assert message.defer_reason == "not reached in time: recycled into the next slot, 2026-06-02 09:00 UTC"
    dispatch_due_messages(max_seconds=60, now=utc(2026, 6, 2, 8))
    assert CampaignRecipient.objects.filter(state="sent").count() == 2  # not before the slot
    dispatch_due_messages(max_seconds=60, now=utc(2026, 6, 2, 9, 30))
    assert CampaignRecipient.objects.filter(state="sent").count() == 4


def test_after_the_last_slot_unreached_recipients_are_skipped_and_withdrawn(channel):
    for _ in range(3):
        make_contact()
    campaign = slot_campaign(channel, days=1)
    start(campaign, now=utc(2026, 5, 31))
    dispatch_due_messages(max_seconds=60, now=utc(2026, 6, 1, 9))
    assert recipients_recycle(now=utc(2026, 6, 1, 12)) == {"recycled": 0, "skipped": 1}
    left = CampaignRecipient.objects.get(campaign=campaign, state="skipped")
    assert left.reason == "window_passed" and message_of(left).status == "cancelled"


def test_forgotten_leads_get_a_message_in_the_next_slot(db):
    rep, channel = make_rep(), make_channel()
    make_rep_channel(rep, channel, capacity=10)
    forgotten, replied, converted, busy, tired = (make_contact() for _ in range(5))
    campaign = slot_campaign(channel, days=3)
    start(campaign, now=utc(2026, 5, 31))
    dispatch_due_messages(max_seconds=60, now=utc(2026, 6, 1, 9))
    assert CampaignRecipient.objects.filter(state="sent").count() == 5
    late = make_contact()  # never planned: zero attempts
    Conversation.objects.filter(contact=replied).update(last_inbound_at=utc(2026, 6, 1, 10))  # in a conversation with the rep
    type(converted).objects.filter(pk=converted.pk).update(converted=True)
    other = make_channel()
    make_rep_channel(rep, other)
    Message.objects.create(conversation=make_conversation(rep, other, contact=busy), channel=other, direction="out",
                           status="queued", due_at=utc(2026, 6, 9))
    CampaignRecipient.objects.filter(contact=tired).update(attempts=2)

    totals = forgotten_leads_recover(now=utc(2026, 6, 2, 13), max_attempts=2)
    assert totals == {"planned": 2, "no_slot": 0}
    third = CampaignSlot.objects.filter(campaign=campaign).order_by("-start_at").first()
    planned = CampaignRecipient.objects.filter(state="scheduled").order_by("contact_id")
    assert [r.contact_id for r in planned] == [forgotten.id, late.id]
    again = planned[0]
    assert (again.attempts, again.slot_id, again.window_start) == (2, third.id, utc(2026, 6, 3, 9))
    assert message_of(again).due_at == utc(2026, 6, 3, 9) and message_of(again).status == "queued"
    assert planned[1].attempts == 1
    assert forgotten_leads_recover(now=utc(2026, 6, 2, 13), max_attempts=2) == {"planned": 0, "no_slot": 0}
    assert Message.objects.filter(conversation__contact=forgotten).count() == 2  # the first attempt is kept
    with pytest.raises(ValueError):
        forgotten_leads_recover(max_attempts=0)
