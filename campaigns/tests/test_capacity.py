"""Capacity holds for campaigns: reps' daily capacity, the campaign's daily cap, opt-outs, and the
best leads first within a rep's capacity."""
from collections import Counter
from datetime import timedelta

import pytest
from django.db.models import Count
from django.utils import timezone

from campaigns.models import CampaignRecipient
from campaigns.tests.world import drive, make_campaign, make_contact, make_contacts, sent, start, utc, wall
from inbox.models import Message
from inbox.services.outbound import claim_due, dispatch_due_messages
from inbox.tests.factories import make_channel, make_conversation, make_rep, make_rep_channel
from salesreps.models import ActivityRecord


@pytest.mark.django_db
def test_thousand_contacts_over_reps_of_100_and_50_send_at_most_that_per_day_and_roll_over():
    channel = make_channel()
    big, small = make_rep("big"), make_rep("small")
    rc_big = make_rep_channel(big, channel, capacity=100)
    rc_small = make_rep_channel(small, channel, capacity=50)
    make_contacts(1000)
    campaign = make_campaign(channel, start=wall(2026, 6, 1), end=wall(2026, 6, 11))
    result = start(campaign, now=utc(2026, 5, 31, 12))
    assert result.scheduled == 1000
    assert result.per_rep == {big.id: 667, small.id: 333}  # in proportion to remaining capacity
    # Planned by capacity: each day's share falls due that day, the rest on the next days.
    due_days = Counter(d.date().isoformat() for d in Message.objects.values_list("due_at", flat=True))
    assert due_days == {f"2026-06-0{d}": 150 for d in range(1, 7)} | {"2026-06-07": 100}

    per_day = []
    for day in range(9):
        at = utc(2026, 6, 1, 1) + timedelta(days=day)
        dispatch_due_messages(max_seconds=600, now=at, batch=200)
        per_day.append(Counter(sent(campaign).filter(sent_at__gte=at, sent_at__lt=at + timedelta(days=1))
                               .values_list("rep_channel_id", flat=True)))
    assert [d[rc_big.id] for d in per_day] == [100] * 6 + [67, 0, 0]
    assert [d[rc_small.id] for d in per_day] == [50] * 6 + [33, 0, 0]
    assert sent(campaign).count() == 1000
    ledger = ActivityRecord.objects.values("rep_channel_activity__rep_channel_id", "shift_day").annotate(n=Count("id"))
    caps = {rc_big.id: 100, rc_small.id: 50}
    assert all(row["n"] <= caps[row["rep_channel_activity__rep_channel_id"]] for row in ledger)
    # Waiting messages said which limit held them and until when.
    assert set(CampaignRecipient.objects.filter(campaign=campaign).values_list("state", flat=True)) == {"sent"}


@pytest.mark.django_db
def test_campaign_daily_cap_binds_below_rep_capacity():
    channel = make_channel()
    make_rep_channel(make_rep(), channel, capacity=100)
    make_contacts(12)
    campaign = make_campaign(channel, start=wall(2026, 6, 1), end=wall(2026, 6, 10), daily_cap=5)
    start(campaign, now=utc(2026, 5, 31))
    dispatch_due_messages(max_seconds=60, now=utc(2026, 6, 1, 9))
    assert sent(campaign).count() == 5
    waiting = Message.objects.filter(status="deferred", campaign_recipient_id__isnull=False)
    assert waiting.count() == 7
    assert {m.defer_code for m in waiting} == {"campaign_cap"}
    assert all(m.due_at == utc(2026, 6, 2) and "campaign daily cap 5 reached" in m.defer_reason for m in waiting)
    dispatch_due_messages(max_seconds=60, now=utc(2026, 6, 1, 18))
    assert sent(campaign).count() == 5
    dispatch_due_messages(max_seconds=60, now=utc(2026, 6, 2, 0, 5))
    assert sent(campaign).count() == 10
    dispatch_due_messages(max_seconds=60, now=utc(2026, 6, 3, 0, 5))
    assert sent(campaign).count() == 12


@pytest.mark.django_db
def test_opted_out_contacts_are_never_sent_to():
    channel = make_channel()
    make_rep_channel(make_rep(), channel)
    before = make_contact(opted_out=True, opt_out_reason="keyword")
    not_here = make_contact(preferences={"opt_outs": [channel.kind]})  # opted out of this kind of channel only
    later = make_contact()
    stays = make_contact()
    campaign = make_campaign(channel, start=wall(2026, 6, 1), end=wall(2026, 6, 2))
    result = start(campaign, now=utc(2026, 5, 31))
    assert result.scheduled == 2
    assert not CampaignRecipient.objects.filter(contact__in=[before, not_here]).exists()  # never in the audience
    type(later).objects.filter(pk=later.pk).update(opted_out=True, opt_out_reason="unsubscribe")  # after expansion
    drive(utc(2026, 6, 1), utc(2026, 6, 2))
    assert list(sent(campaign).values_list("conversation__contact_id", flat=True)) == [stays.id]
    refused = Message.objects.get(conversation__contact=later)
    assert (refused.status, refused.error_code) == ("failed", "opted_out")
    assert not refused.attempts_log.exists()
    from campaigns.services.campaigns import campaigns_advance

    campaigns_advance(now=utc(2026, 6, 2, 1))
    row = CampaignRecipient.objects.get(contact=later)
    assert (row.state, row.reason) == ("failed", "opted_out")


@pytest.mark.django_db
def test_within_a_reps_capacity_the_best_scored_leads_go_first():
    rep, channel = make_rep(), make_channel()
    make_rep_channel(rep, channel, capacity=2)
    now = timezone.now()
    scores = [10, 90, 40, 70, 20]
    for score in scores:
        conversation = make_conversation(rep, channel, lead_score=score)
        Message.objects.create(conversation=conversation, channel=channel, direction="out", status="queued", body="hi",
                               due_at=now - timedelta(minutes=score), priority=score)  # the best are not the oldest
    assert [Message.objects.get(pk=i).priority for i in claim_due(limit=5)] == [90, 70, 40, 20, 10]
    Message.objects.update(status="queued", lease_until=None)
    dispatch_due_messages(max_seconds=60)
    assert sorted(Message.objects.filter(status="sent").values_list("priority", flat=True)) == [70, 90]


@pytest.mark.django_db
def test_campaign_messages_carry_the_lead_score_as_priority():
    channel = make_channel()
    make_rep_channel(make_rep(), channel, capacity=1)
    low, high = make_contact(lead_score=5), make_contact(lead_score=80)
    campaign = make_campaign(channel, start=wall(2026, 6, 1), end=wall(2026, 6, 3))
    start(campaign, now=utc(2026, 5, 31))
    dispatch_due_messages(max_seconds=60, now=utc(2026, 6, 1, 1))
    assert list(sent(campaign).values_list("conversation__contact_id", flat=True)) == [high.id]
    assert Message.objects.get(conversation__contact=low).priority == 5
