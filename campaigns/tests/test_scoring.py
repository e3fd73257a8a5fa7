"""Lead scoring: a pure function of facts and rules, tested by table and by property."""
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.scoring import DEFAULT_RULES, LeadFacts, effective_rules, lead_score

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
RULES = effective_rules(None)


@pytest.mark.parametrize("facts, expected", [
    (LeadFacts(), 0),
    (LeadFacts(last_inbound_at=NOW - timedelta(hours=2)), 40),
    (LeadFacts(last_inbound_at=NOW - timedelta(days=3)), 25),
    (LeadFacts(last_inbound_at=NOW - timedelta(days=20)), 10),
    (LeadFacts(last_inbound_at=NOW - timedelta(days=90)), 0),
    (LeadFacts(replies=3), 15),
    (LeadFacts(replies=50), 30),  # capped
    (LeadFacts(tags=("VIP", "vip", "hot")), 35),  # case-insensitive, once each
    (LeadFacts(tags=("cold",)), 0),  # the floor
    (LeadFacts(tags=("cold",), source="referral"), 0),
    (LeadFacts(tags=("vip", "cold"), source="Website"), 15),
    (LeadFacts(delivered=4, read=2, replied=1), 4 + 6 + 10),
    (LeadFacts(delivered=40, read=40, replied=40), 30),  # capped
    (LeadFacts(last_inbound_at=NOW, replies=10, tags=("vip", "hot"), source="referral", delivered=9, read=9, replied=9), 100),
])
def test_lead_score_table(facts, expected):
    assert lead_score(facts=facts, rules=RULES, now=NOW) == expected


def test_rules_come_from_settings_merged_over_the_defaults(settings):
    from campaigns.services.scores import score_rules

    settings.LEAD_SCORE_RULES = {"tags": {"vip": 50}, "ceiling": 60}
    rules = score_rules()
    assert rules["tags"] == {"vip": 50, "hot": 15, "cold": -15} and rules["ceiling"] == 60
    assert lead_score(facts=LeadFacts(tags=("vip", "hot")), rules=rules, now=NOW) == 60


@pytest.mark.parametrize("overrides, words", [
    ({"colour": 1}, "unknown lead score rule 'colour'"),
    ({"recency": [[1, 10], [7, 30]]}, "must not grow"),
    ({"engagement": {"clicked": 3}}, "engagement weights"),
    ({"per_reply": -1}, "must not be negative"),
    ({"floor": 10, "ceiling": 5}, "floor is above its ceiling"),
    ({"tags": ["vip"]}, "must be a mapping"),
])
def test_bad_rules_are_refused(overrides, words):
    with pytest.raises(ValueError, match=words):
        effective_rules(overrides)


ages = st.none() | st.integers(0, 400 * 86400).map(lambda s: NOW - timedelta(seconds=s))
tags = st.lists(st.sampled_from(["vip", "hot", "cold", "VIP", "new", "x"]), max_size=5).map(tuple)
facts = st.builds(LeadFacts, last_inbound_at=ages, replies=st.integers(0, 50), tags=tags,
                  source=st.sampled_from(["", "referral", "website", "ads", "event", "other"]),
                  delivered=st.integers(0, 30), read=st.integers(0, 30), replied=st.integers(0, 30))
weights = st.integers(0, 40)
rule_sets = st.builds(
    lambda a, b, c, per_reply, cap, eng, floor, span: {
        "recency": [[1, max(a, b, c)], [7, sorted((a, b, c))[1]], [30, min(a, b, c)]],
        "per_reply": per_reply, "max_reply_points": cap, "engagement": eng,
        "floor": floor, "ceiling": floor + span,
    },
    weights, weights, weights, st.integers(0, 10), st.integers(0, 50),
    st.fixed_dictionaries({"delivered": weights, "read": weights, "replied": weights}),
    st.integers(-20, 20), st.integers(0, 200),
).map(effective_rules)


@settings(max_examples=300, deadline=None)
@given(facts=facts, rules=st.just(RULES) | rule_sets)
def test_score_stays_within_floor_and_ceiling(facts, rules):
    score = lead_score(facts=facts, rules=rules, now=NOW)
    assert rules["floor"] <= score <= rules["ceiling"]
    assert score == lead_score(facts=facts, rules=rules, now=NOW)  # deterministic


@settings(max_examples=300, deadline=None)
@given(facts=facts, rules=st.just(RULES) | rule_sets, more=st.integers(1, 20), hours=st.integers(1, 24 * 200))
def test_more_recent_more_replies_and_more_engagement_never_score_lower(facts, rules, more, hours):
    base = lead_score(facts=facts, rules=rules, now=NOW)
    better = [
        replace(facts, replies=facts.replies + more),
        replace(facts, delivered=facts.delivered + more),
        replace(facts, read=facts.read + more),
        replace(facts, replied=facts.replied + more),
        replace(facts, last_inbound_at=(facts.last_inbound_at or NOW - timedelta(days=999)) + timedelta(hours=hours)),
    ]
    for improved in better:
        if improved.last_inbound_at and improved.last_inbound_at > NOW:
            improved = replace(improved, last_inbound_at=NOW)
        assert lead_score(facts=improved, rules=rules, now=NOW) >= base


@settings(max_examples=200, deadline=None)
@given(facts=facts, tag=st.sampled_from(sorted(DEFAULT_RULES["tags"])))
def test_a_tag_moves_the_score_in_the_direction_of_its_weight(facts, tag):
    without = replace(facts, tags=tuple(t for t in facts.tags if t.lower() != tag))
    with_tag = replace(without, tags=(*without.tags, tag))
    delta = lead_score(facts=with_tag, rules=RULES, now=NOW) - lead_score(facts=without, rules=RULES, now=NOW)
    weight = RULES["tags"][tag]
    assert (delta >= 0) if weight >= 0 else (delta <= 0)
    assert abs(delta) <= abs(weight)


@settings(max_examples=200, deadline=None)
@given(facts=facts, order=st.permutations(range(5)))
def test_tag_order_and_case_do_not_matter(facts, order):
    shuffled = tuple(facts.tags[i] for i in order if i < len(facts.tags))
    upper = tuple(t.upper() for t in shuffled)
    assert lead_score(facts=replace(facts, tags=upper), rules=RULES, now=NOW) == lead_score(facts=facts, rules=RULES, now=NOW)
