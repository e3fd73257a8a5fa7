"""The periodic tasks are thin: each runs its service with the real clock."""
from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import Campaign, CampaignRecipient
from campaigns.tasks import plan_followups, recycle_slots
from campaigns.tests.world import make_campaign, make_contact, start, wall
from inbox.tests.factories import make_channel, make_rep, make_rep_channel


@pytest.mark.django_db
def test_recycler_moves_overdue_recipients_and_advances_campaigns():
    channel = make_channel()
    make_rep_channel(make_rep(), channel)
    make_contact()
    today = timezone.now()  # UTC
    day = wall(today.year, today.month, today.day)
    slots = [{"start_at": day - timedelta(days=1), "end_at": day - timedelta(days=1) + timedelta(hours=1)},
             {"start_at": day + timedelta(days=2), "end_at": day + timedelta(days=2, hours=1)}]
    campaign = make_campaign(channel, start=day - timedelta(days=1), end=day + timedelta(days=3), slots=slots,
                             steps=[{"number": 1, "delay_hours": 1}])
    start(campaign, now=timezone.now() - timedelta(days=2))  # planned into yesterday's slot, never sent
    assert recycle_slots.run() == 1
    row = CampaignRecipient.objects.get()
    assert row.slot.start_at == day + timedelta(days=2)
    assert plan_followups.run() == 0
    assert Campaign.objects.get().status == "scheduled"
