"""One campaign, contacts in Tokyo, Los Angeles and Moscow: each reached inside their own allowed
hours, across the US spring-forward, with the window kept, narrowed or skipped."""
from datetime import time, timedelta
from zoneinfo import ZoneInfo

import pytest

from campaigns.models import CampaignRecipient
from campaigns.rules import NO_OVERLAP
from campaigns.tests.world import drive, make_campaign, make_contact, message_of, sent, start, utc, wall
from inbox.tests.factories import make_channel, make_rep, make_rep_channel

TOKYO, LA, MOSCOW = "Asia/Tokyo", "America/Los_Angeles", "Europe/Moscow"


def local(instant, tz):
    return instant.astimezone(ZoneInfo(tz))


@pytest.fixture
def channel():
    channel = make_channel()
    make_rep_channel(make_rep(), channel)  # all day, UTC, sandbox
    return channel


@pytest.mark.django_db
def test_three_zones_on_the_dst_day_kept_narrowed_skipped_and_sent_inside_allowed_hours(channel):
    tokyo = make_contact(timezone=TOKYO, allowed_start=time(8), allowed_end=time(20))
    la = make_contact(timezone=LA, allowed_start=time(12), allowed_end=time(20))
    moscow = make_contact(timezone=MOSCOW, allowed_start=time(18), allowed_end=time(22))
    # 2026-03-08 is spring-forward day in Los Angeles (02:00 PST → 03:00 PDT).
    campaign = make_campaign(channel, start=wall(2026, 3, 8, 9), end=wall(2026, 3, 8, 17))
    result = start(campaign, now=utc(2026, 3, 7, 12))
    assert (result.scheduled, result.skipped) == (2, 1)

    rows = {r.contact_id: r for r in CampaignRecipient.objects.filter(campaign=campaign)}
    assert (rows[tokyo.id].clip, rows[tokyo.id].state) == ("kept", "scheduled")
    assert (rows[tokyo.id].window_start, rows[tokyo.id].window_end) == (utc(2026, 3, 8, 0), utc(2026, 3, 8, 8))
    assert (rows[la.id].clip, rows[la.id].state) == ("narrowed", "scheduled")
    assert "12:00-20:00 America/Los_Angeles" in rows[la.id].reason
    # 12:00 PDT is 19:00 UTC (it would be 20:00 under PST), 17:00 PDT is midnight UTC.
    assert (rows[la.id].window_start, rows[la.id].window_end) == (utc(2026, 3, 8, 19), utc(2026, 3, 9, 0))
    assert (rows[moscow.id].clip, rows[moscow.id].state, rows[moscow.id].reason) == ("skipped", "skipped", NO_OVERLAP)
    assert rows[moscow.id].message_id is None
    assert message_of(rows[la.id]).due_at == utc(2026, 3, 8, 19)

    drive(utc(2026, 3, 7, 12), utc(2026, 3, 9, 12))
    messages = list(sent(campaign).select_related("conversation__contact"))
    assert {m.conversation.contact_id for m in messages} == {tokyo.id, la.id}
    for message in messages:
        contact = message.conversation.contact
        at = local(message.sent_at, contact.timezone)
        assert contact.allowed_start <= at.time() < contact.allowed_end
        assert time(9) <= at.time() < time(17) and at.date().isoformat() == "2026-03-08"
    assert local(message_of(rows[la.id]).sent_at, LA).utcoffset() == timedelta(hours=-7)  # PDT
    states = dict(CampaignRecipient.objects.filter(campaign=campaign).values_list("contact_id", "state"))
    assert states == {tokyo.id: "sent", la.id: "sent", moscow.id: "skipped"}


@pytest.mark.django_db
def test_capacity_rolls_la_contacts_across_the_dst_change_inside_their_hours():
    channel = make_channel()
    # The rep works Los Angeles afternoons, two messages a day.
    make_rep_channel(make_rep(), channel, start=time(12), end=time(20), tz=LA, capacity=2)
    la = [make_contact(timezone=LA, allowed_start=time(12), allowed_end=time(17)) for _ in range(5)]
    tokyo = make_contact(timezone=TOKYO, allowed_start=time(14), allowed_end=time(16))
    campaign = make_campaign(channel, start=wall(2026, 3, 7, 9), end=wall(2026, 3, 9, 17))
    start(campaign, now=utc(2026, 3, 6, 12))
    drive(utc(2026, 3, 6, 12), utc(2026, 3, 10, 12))

    times = sorted(m.sent_at for m in sent(campaign).filter(conversation__contact__in=la))
    # Two at 12:00 PST (20:00 UTC) on the 7th, two at 12:00 PDT (19:00 UTC) on the 8th, one on the 9th.
    assert times == [utc(2026, 3, 7, 20)] * 2 + [utc(2026, 3, 8, 19)] * 2 + [utc(2026, 3, 9, 19)]
    for at in times:
        assert time(12) <= local(at, LA).time() < time(17)
    # Tokyo's 14:00-16:00 (21:00-23:00 in LA) is outside the rep's shift every day: skipped at the end.
    tokyo_row = CampaignRecipient.objects.get(campaign=campaign, contact=tokyo)
    assert tokyo_row.state == "skipped"
    assert message_of(tokyo_row).status in ("failed", "cancelled")
    assert not sent(campaign).filter(conversation__contact=tokyo).exists()


@pytest.mark.django_db
def test_a_message_deferred_past_its_window_is_re_planned_to_the_next_allowed_hours(channel):
    from inbox.services.outbound import dispatch_due_messages

    make_contact(timezone=LA, allowed_start=time(12), allowed_end=time(14))
    campaign = make_campaign(channel, start=wall(2026, 3, 7, 0), end=wall(2026, 3, 9, 23))
    start(campaign, now=utc(2026, 3, 7, 0))
    row = CampaignRecipient.objects.get(campaign=campaign)
    assert (row.window_start, row.window_end) == (utc(2026, 3, 7, 20), utc(2026, 3, 7, 22))
    # The dispatcher only comes round after the window closed (say, workers were down).
    dispatch_due_messages(max_seconds=60, now=utc(2026, 3, 7, 23))
    row.refresh_from_db()
    message = message_of(row)
    assert (message.status, message.defer_code) == ("deferred", "contact_window")
    assert (row.window_start, row.window_end) == (utc(2026, 3, 8, 19), utc(2026, 3, 8, 21))  # 12:00-14:00 PDT
    assert message.due_at == utc(2026, 3, 8, 19)
    assert "re-planned to 2026-03-08 12:00 America/Los_Angeles" in message.defer_reason
    dispatch_due_messages(max_seconds=60, now=utc(2026, 3, 8, 19, 30))
    message.refresh_from_db()
    assert message.status == "sent"


@pytest.mark.django_db
def test_a_message_past_the_last_window_is_skipped_with_the_reason(channel):
    from inbox.services.outbound import dispatch_due_messages

    contact = make_contact(timezone=TOKYO, allowed_start=time(9), allowed_end=time(10))
    campaign = make_campaign(channel, start=wall(2026, 6, 1, 0), end=wall(2026, 6, 1, 23))
    start(campaign, now=utc(2026, 5, 31))
    dispatch_due_messages(max_seconds=60, now=utc(2026, 6, 1, 5))  # 14:00 in Tokyo: too late
    row = CampaignRecipient.objects.get(campaign=campaign, contact=contact)
    assert (row.state, row.reason) == ("skipped", "window_passed")
    message = message_of(row)
    assert (message.status, message.error_code) == ("failed", "campaign_window_passed")
    assert not message.attempts_log.exists()
