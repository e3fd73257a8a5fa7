"""Expansion is set-based: 100,000 contacts plan within the 10-second budget."""
import time as clock
from datetime import time

import pytest
from django.db import connection

from campaigns.models import CampaignRecipient
from campaigns.tests.world import make_campaign, start, utc, wall
from inbox.models import Contact, Conversation, Message
from inbox.tests.factories import make_channel, make_rep, make_rep_channel

ZONES = ["Asia/Tokyo", "America/Los_Angeles", "Europe/Moscow", "UTC", "Europe/Paris", "America/New_York"]


@pytest.mark.slow
@pytest.mark.django_db
def test_hundred_thousand_contacts_expand_within_ten_seconds():
    n = 100_000
    channel = make_channel()
    for capacity in (5000, 3000, 2000):
        make_rep_channel(make_rep(), channel, capacity=capacity)
    Contact.objects.bulk_create(
        (Contact(name=f"Bench {i}", phone=f"+1777{i:07d}", timezone=ZONES[i % len(ZONES)], tags=["bench"],
                 lead_score=i % 100, allowed_start=time(9) if i % 3 else None, allowed_end=time(18) if i % 3 else None)
         for i in range(n)), batch_size=10_000)
    campaign = make_campaign(channel, start=wall(2026, 6, 1, 8), end=wall(2026, 6, 20, 20), audience={"tags_any": ["bench"]})
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    began = clock.monotonic()
    result = start(campaign, now=utc(2026, 5, 31))
    elapsed = clock.monotonic() - began
    print(f"expanded {n} contacts in {elapsed:.2f} s")
    assert result.scheduled == n
    assert CampaignRecipient.objects.filter(campaign=campaign).count() == n
    assert Message.objects.filter(status="queued", campaign_recipient_id__isnull=False).count() == n
    assert Conversation.objects.filter(channel=channel).count() == n
    assert elapsed <= 10, f"expansion of {n} contacts took {elapsed:.1f} s"
