"""Lead scores from configurable rules: a pure function over plain facts about a contact.

Rules come from settings.LEAD_SCORE_RULES merged over DEFAULT_RULES (see `effective_rules`);
services gather the facts and store the score (campaigns/services/scores.py).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

DEFAULT_RULES: dict = {
    # Last inbound message within N days → points; the first (smallest) matching N wins.
    "recency": [[1, 40], [7, 25], [30, 10]],
    # Inbound messages (replies) the contact ever sent, capped.
    "per_reply": 5,
    "max_reply_points": 30,
    # Tags and source (case-insensitive); unknown ones count 0, negatives are allowed.
    "tags": {"vip": 20, "hot": 15, "cold": -15},
    "sources": {"referral": 15, "website": 10, "event": 10, "ads": 5},
    # Campaign engagement: messages delivered, read, replied to; capped.
    "engagement": {"delivered": 1, "read": 3, "replied": 10},
    "max_engagement_points": 30,
    "floor": 0,
    "ceiling": 100,
}


@dataclass(frozen=True)
class LeadFacts:
    last_inbound_at: datetime | None = None
    replies: int = 0
    tags: tuple[str, ...] = ()
    source: str = ""
    delivered: int = 0  # campaign messages delivered (read ones included)
    read: int = 0
    replied: int = 0  # campaign messages the contact replied to


def effective_rules(overrides: Mapping | None) -> dict:
    """DEFAULT_RULES with `overrides` merged in (dicts one level deep), validated: every score
    is then monotone in recency, replies and engagement, and lies within [floor, ceiling]."""
    rules = {key: (dict(value) if isinstance(value, dict) else value) for key, value in DEFAULT_RULES.items()}
    for key, value in (overrides or {}).items():
        if key not in DEFAULT_RULES:
            raise ValueError(f"unknown lead score rule {key!r} (known: {', '.join(sorted(DEFAULT_RULES))})")
        if isinstance(DEFAULT_RULES[key], dict):
            if not isinstance(value, Mapping):
                raise ValueError(f"lead score rule {key!r} must be a mapping")
            rules[key] = {**rules[key], **value}
        else:
            rules[key] = value
    recency = sorted((float(days), int(points)) for days, points in rules["recency"])
    if any(days <= 0 for days, _ in recency):
        raise ValueError("recency thresholds must be positive numbers of days")
    if any(later > earlier for (_, earlier), (_, later) in zip(recency, recency[1:], strict=False)):
        raise ValueError("recency points must not grow as the last inbound message gets older")
    rules["recency"] = recency
    for key in ("per_reply", "max_reply_points", "max_engagement_points"):
        if int(rules[key]) < 0:
            raise ValueError(f"lead score rule {key!r} must not be negative")
    if any(int(v) < 0 for v in rules["engagement"].values()) or set(rules["engagement"]) - {"delivered", "read", "replied"}:
        raise ValueError("engagement weights are delivered, read, replied and must not be negative")
    if any(points < 0 for _, points in recency):
        raise ValueError("recency points must not be negative")
    if int(rules["floor"]) > int(rules["ceiling"]):
        raise ValueError("lead score floor is above its ceiling")
    rules["tags"] = {str(k).lower(): int(v) for k, v in rules["tags"].items()}
    rules["sources"] = {str(k).lower(): int(v) for k, v in rules["sources"].items()}
    return rules


def lead_score(*, facts: LeadFacts, rules: Mapping, now: datetime) -> int:
    """The contact's score under validated `rules` (see effective_rules)."""
    score = 0
    if facts.last_inbound_at is not None:
        age_days = max(0.0, (now - facts.last_inbound_at).total_seconds() / 86400)
        score += next((points for days, points in rules["recency"] if age_days <= days), 0)
    score += min(int(rules["max_reply_points"]), int(rules["per_reply"]) * max(0, facts.replies))
    score += sum(rules["tags"].get(tag, 0) for tag in {t.lower() for t in facts.tags})
    score += rules["sources"].get(facts.source.lower(), 0)
    weights = rules["engagement"]
    engagement = (
        weights.get("delivered", 0) * max(0, facts.delivered)
        + weights.get("read", 0) * max(0, facts.read)
        + weights.get("replied", 0) * max(0, facts.replied)
    )
    score += min(int(rules["max_engagement_points"]), engagement)
    return max(int(rules["floor"]), min(int(rules["ceiling"]), score))
