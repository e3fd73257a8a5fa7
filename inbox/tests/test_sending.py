"""decide() and its checks, table-driven over plain facts: no database, no clock."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inbox import sending
from inbox.rules import Candidate, pick_assignee
from inbox.sending import (
    PAUSED_CODE,
    CampaignFacts,
    CampaignSendReserve,
    ContactFacts,
    RateUsage,
    RecipientCancel,
    RecipientReplan,
    RecipientSkip,
    Replan,
    SendFacts,
    StoreAllowance,
    decide,
)
from salesreps.rules import Capacity, Schedule, Window

NOW = datetime(2026, 6, 3, 10, 0, tzinfo=UTC)  # a Wednesday, 12:00 in Paris
PARIS = "Europe/Paris"
OFFICE = Schedule(tz=PARIS, windows=(Window(time(9), time(18)),))


def capacity(**changes) -> Capacity:
    base = Capacity(schedule=OFFICE, available=True, max_capacity=10, day=date(2026, 6, 3), allowance=10,
                    allowance_stored=True, used=0)
    return replace(base, **changes)


def facts(**changes) -> SendFacts:
    base = SendFacts(now=NOW, channel_kind="sms", has_template=False, contact=ContactFacts(timezone=PARIS),
                     capacity=capacity())
    return replace(base, **changes)


def campaign(**changes) -> CampaignFacts:
    base = CampaignFacts(status="running", recipient_state="scheduled", window_start=NOW - timedelta(hours=1),
                         window_end=NOW + timedelta(hours=1))
    return replace(base, **changes)


TABLE = [
    # (what, facts, action, code)
    ("all clear", facts(), "send", ""),
    ("opted out", facts(contact=ContactFacts(opted_out=True, opt_out_reason="keyword")), "fail", "opted_out"),
    ("opted out of the channel kind", facts(contact=ContactFacts(channel_opt_outs=frozenset({"sms"}))), "fail", "opted_out_channel"),
    ("opt-out of another kind only", facts(contact=ContactFacts(channel_opt_outs=frozenset({"email"}))), "send", ""),
    ("opted out of marketing, a campaign message",
     facts(purpose="marketing", contact=ContactFacts(purpose_opt_outs=frozenset({"marketing"}))), "fail", "opted_out_marketing"),
    ("opted out of marketing, a reply in the conversation",
     facts(contact=ContactFacts(purpose_opt_outs=frozenset({"marketing"}))), "send", ""),
    ("opt-in required and missing", facts(purpose="marketing", requires_opt_in=True), "fail", "not_opted_in"),
    ("opt-in required and given",
     facts(purpose="marketing", requires_opt_in=True, contact=ContactFacts(opt_ins=frozenset({"sms"}))), "send", ""),
    ("opt-in required, but not for conversation replies", facts(requires_opt_in=True), "send", ""),
    ("no rep-channel", facts(has_rep_channel=False, capacity=None), "fail", "no_rep_channel"),
    ("WhatsApp text, never an inbound", facts(channel_kind="whatsapp"), "fail", "whatsapp_24h_window"),
    ("WhatsApp text, inbound 25 h ago",
     facts(channel_kind="whatsapp", channel_last_inbound_at=NOW - timedelta(hours=25)), "fail", "whatsapp_24h_window"),
    ("WhatsApp text, inbound 23 h ago",
     facts(channel_kind="whatsapp", channel_last_inbound_at=NOW - timedelta(hours=23)), "send", ""),
    ("WhatsApp text, the person wrote 1 h ago but on another channel",
     facts(channel_kind="whatsapp", contact=ContactFacts(last_inbound_at=NOW - timedelta(hours=1))), "fail", "whatsapp_24h_window"),
    ("Messenger inside 24 h", facts(channel_kind="messenger", channel_last_inbound_at=NOW - timedelta(hours=23)), "send", ""),
    ("Messenger after 24 h without the tag",
     facts(channel_kind="messenger", channel_last_inbound_at=NOW - timedelta(hours=25)), "fail", "messenger_24h_window"),
    ("Instagram after 24 h with HUMAN_AGENT",
     facts(channel_kind="instagram", channel_last_inbound_at=NOW - timedelta(days=3), human_agent_tag=True), "send", ""),
    ("Instagram after 7 days even with HUMAN_AGENT",
     facts(channel_kind="instagram", channel_last_inbound_at=NOW - timedelta(days=8), human_agent_tag=True), "fail",
     "instagram_24h_window"),
    ("Messenger to someone who never wrote", facts(channel_kind="messenger", human_agent_tag=True), "fail", "messenger_24h_window"),
    ("WhatsApp template outside the window", facts(channel_kind="whatsapp", has_template=True), "send", ""),
    ("quiet hours", facts(contact=ContactFacts(timezone=PARIS, quiet=Window(time(11), time(13)))), "defer", "quiet_hours"),
    # A message reserved by an earlier claim: the counts leave its own row out, and every rule runs again.
    ("reserved earlier, room without its own row", facts(reserved=True, capacity=capacity(used=9)), "send", ""),
    ("reserved earlier, the shift has ended since", facts(reserved=True, now=NOW.replace(hour=19)), "defer", "outside_shift"),
    ("reserved earlier, quiet hours now",
     facts(reserved=True, contact=ContactFacts(timezone=PARIS, quiet=Window(time(11), time(13)))), "defer", "quiet_hours"),
    ("reserved earlier, channel rate reached by others",
     facts(reserved=True, rates=(RateUsage("channel_hourly", 5, 5, NOW + timedelta(minutes=20)),)), "defer", "channel_hourly"),
    ("reserved earlier, paced", facts(reserved=True, last_sent_at=NOW - timedelta(seconds=5), min_gap_seconds=20), "defer", "pacing"),
    ("unavailable", facts(capacity=capacity(available=False)), "defer", "unavailable"),
    ("outside the shift", facts(now=NOW.replace(hour=19)), "defer", "outside_shift"),
    ("activity off", facts(capacity=capacity(max_capacity=0, allowance=0)), "defer", "activity_off"),
    ("daily capacity used", facts(capacity=capacity(used=10)), "defer", "activity_cap"),
    ("warm-up allowance used", facts(capacity=capacity(allowance=3, used=3)), "defer", "warmup"),
    ("channel hourly rate", facts(rates=(RateUsage("channel_hourly", 5, 5, NOW + timedelta(minutes=20)),)), "defer", "channel_hourly"),
    ("channel rate with room", facts(rates=(RateUsage("channel_daily", 5, 4, None),)), "send", ""),
    ("pacing", facts(last_sent_at=NOW - timedelta(seconds=5), min_gap_seconds=20), "defer", "pacing"),
    ("pacing of a campaign message, even to someone who just wrote",
     facts(purpose="marketing", channel_last_inbound_at=NOW - timedelta(minutes=5), last_sent_at=NOW - timedelta(seconds=5),
           min_gap_seconds=20), "defer", "pacing"),
    ("a live reply goes at once", facts(channel_last_inbound_at=NOW - timedelta(minutes=5), last_sent_at=NOW - timedelta(seconds=5),
                                        min_gap_seconds=20, jitter_seconds=10, reply_gap_seconds=2), "send", ""),
    ("a live reply keeps a human gap", facts(channel_last_inbound_at=NOW - timedelta(minutes=5), last_sent_at=NOW - timedelta(seconds=1),
                                             min_gap_seconds=20, reply_gap_seconds=2), "defer", "pacing"),
    ("campaign paused", facts(campaign=campaign(status="paused")), "defer", PAUSED_CODE),
    ("campaign cancelled", facts(campaign=campaign(status="cancelled")), "fail", "campaign_cancelled"),
    ("recipient skipped", facts(campaign=campaign(recipient_state="skipped", recipient_reason="no_overlap")), "fail",
     "campaign_recipient_skipped"),
    ("before the contact's window", facts(campaign=campaign(window_start=NOW + timedelta(hours=2), window_end=NOW + timedelta(hours=3))),
     "defer", "contact_window"),
    ("campaign cap reached", facts(campaign=campaign(daily_cap=2, used_today=2)), "defer", "campaign_cap"),
    ("campaign cap reserved today already", facts(campaign=campaign(daily_cap=2, used_today=2, reserved_today=True)), "send", ""),
]


@pytest.mark.parametrize(("what", "given_facts", "action", "code"), TABLE, ids=[row[0] for row in TABLE])
def test_decide_table(what, given_facts, action, code):
    decision = decide(given_facts)
    assert (decision.action, decision.code) == (action, code)
    if action == "defer":
        assert decision.until is not None and decision.until > given_facts.now


def test_the_first_failing_check_wins_in_order():
    both = facts(contact=ContactFacts(opted_out=True, quiet=Window(time(11), time(13))), capacity=capacity(used=10))
    assert decide(both).code == "opted_out"
    quiet_and_full = facts(contact=ContactFacts(timezone=PARIS, quiet=Window(time(11), time(13))), capacity=capacity(used=10))
    assert decide(quiet_and_full).code == "quiet_hours"


def test_reasons_name_the_limit_and_the_local_time():
    outside = decide(facts(now=NOW.replace(hour=19)))
    assert outside.reason == "outside shift until 2026-06-04 09:00 Europe/Paris"
    assert outside.until == datetime(2026, 6, 4, 7, 0, tzinfo=UTC)
    quiet = decide(facts(contact=ContactFacts(timezone=PARIS, quiet=Window(time(11), time(13)))))
    assert quiet.reason == "contact's quiet hours until 13:00 Europe/Paris"
    capped = decide(facts(campaign=campaign(daily_cap=2, used_today=2)))
    assert capped.reason == "campaign daily cap 2 reached until 2026-06-04 00:00 UTC"


def test_unavailable_rechecks_in_a_quarter_hour():
    decision = decide(facts(capacity=capacity(available=False)))
    assert decision.until == NOW + sending.UNAVAILABLE_RECHECK


def test_an_unstored_allowance_is_stored_when_the_check_reaches_it():
    sent = decide(facts(capacity=capacity(allowance_stored=False, allowance=4)))
    assert sent.action == "send" and sent.effects == (StoreAllowance(date(2026, 6, 3), 4),)
    refused = decide(facts(capacity=capacity(allowance_stored=False, allowance=4, used=4)))
    assert refused.code == "warmup" and refused.effects == (StoreAllowance(date(2026, 6, 3), 4),)
    closed = decide(facts(now=NOW.replace(hour=19), capacity=capacity(allowance_stored=False)))
    assert closed.code == "outside_shift" and closed.effects == ()


def test_campaign_effects():
    cancelled = decide(facts(campaign=campaign(status="cancelled")))
    assert cancelled.effects == (RecipientCancel(),)
    passed = campaign(window_start=NOW - timedelta(hours=3), window_end=NOW - timedelta(hours=1),
                      replan=Replan(None, reason="no_window_left"))
    skipped = decide(facts(campaign=passed))
    assert (skipped.code, skipped.effects) == ("campaign_window_passed", (RecipientSkip("no_window_left"),))
    later = (NOW + timedelta(days=1), NOW + timedelta(days=1, hours=2))
    moved = decide(facts(campaign=replace(passed, replan=Replan(later, slot_id=7, clip="kept"))))
    assert (moved.action, moved.code, moved.until) == ("defer", "contact_window", later[0])
    assert moved.effects == (RecipientReplan(later, 7, "kept"),)
    open_now = (NOW - timedelta(minutes=5), NOW + timedelta(hours=1))
    goes = decide(facts(campaign=replace(passed, replan=Replan(open_now, None, "narrowed"), daily_cap=5)))
    assert goes.action == "send" and goes.effects == (RecipientReplan(open_now, None, "narrowed"), CampaignSendReserve())


def test_a_message_with_no_campaign_asks_for_no_campaign_writes():
    assert decide(facts()).effects == ()


@given(used=st.integers(0, 30), allowance=st.integers(0, 30), cap=st.integers(0, 30))
def test_capacity_never_passes_a_send_beyond_the_binding_limit(used, allowance, cap):
    decision = decide(facts(capacity=capacity(used=used, allowance=allowance, max_capacity=cap)))
    assert (decision.action == "send") == (cap > 0 and used < min(allowance, cap))


@given(owner=st.none() | st.integers(1, 5), owner_ok=st.booleans(), person=st.none() | st.integers(1, 5),
       free=st.lists(st.tuples(st.integers(1, 5), st.booleans(), st.integers(0, 9)), max_size=5, unique_by=lambda t: t[0]))
def test_assignment_keeps_the_person_with_one_rep(owner, owner_ok, person, free):
    candidates = [Candidate(rep, ok, n) for rep, ok, n in free]
    chosen = pick_assignee(owner_id=owner, owner_available=owner_ok, candidates=candidates, person_rep_id=person)
    available = [c for c in candidates if c.available]
    if owner is not None and owner_ok:
        assert chosen == owner
    elif person is not None and any(c.rep_id == person for c in available):
        assert chosen == person
    elif available:
        assert chosen == min(available, key=lambda c: (c.open_conversations, c.rep_id)).rep_id
    else:
        assert chosen is None


def test_every_pacing_deferral_says_why():
    outreach = decide(facts(last_sent_at=NOW - timedelta(seconds=5), min_gap_seconds=20))
    reply = decide(facts(channel_last_inbound_at=NOW - timedelta(minutes=5), last_sent_at=NOW - timedelta(seconds=1),
                         reply_gap_seconds=2))
    assert outreach.reason.startswith("pacing between outreach sends on this rep-channel: 20 s, next at ")
    assert reply.reason.startswith("reply gap on this rep-channel: 2 s")
    assert outreach.until == NOW + timedelta(seconds=15) and reply.until == NOW + timedelta(seconds=1)


@given(ahead=st.integers(0, 50), since=st.floats(0, 19.9))
def test_a_paced_queue_is_spread_over_its_slots_never_sooner_than_the_gap(ahead, since):
    decision = decide(facts(last_sent_at=NOW - timedelta(seconds=since), min_gap_seconds=20, paced_ahead=ahead))
    assert decision.code == "pacing"
    # The first waits out the gap; each one behind it in the batch one gap more.
    assert decision.until == NOW + timedelta(seconds=20 - since) + timedelta(seconds=20 * ahead)


@given(kind=st.sampled_from(["whatsapp", "sms", "email", "service"]),
       hours_ago=st.none() | st.floats(0, 72, allow_nan=False))
def test_the_composers_24_hour_window_and_the_send_decision_agree(kind, hours_ago):
    """inbox.rules.reply_window is what the rep sees (GET /api/conversations/<id>/); the send decision
    refuses free text exactly when it says closed, and lets a template through either way."""
    from inbox.rules import REPLY_WINDOW, reply_window

    last = None if hours_ago is None else NOW - timedelta(hours=hours_ago)
    window = reply_window(channel_kind=kind, last_inbound_at=last, now=NOW)
    free_text = decide(facts(channel_kind=kind, channel_last_inbound_at=last))
    template = decide(facts(channel_kind=kind, channel_last_inbound_at=last, has_template=True))
    assert (free_text.code == "whatsapp_24h_window") == (window.applies and not window.open)
    assert template.code != "whatsapp_24h_window"
    assert window.applies == (kind == "whatsapp")
    assert window.closes_at == (None if last is None else last + REPLY_WINDOW)
    assert window.open == (not window.applies or (last is not None and NOW - last <= REPLY_WINDOW))
