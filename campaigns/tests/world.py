"""Builders for campaign tests: real rows in the real database, a pinned clock for dispatch."""
from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from campaigns.models import Campaign
from campaigns.services.campaigns import campaign_create, campaign_start
from inbox.models import Contact, Message
from inbox.services.outbound import dispatch_due_messages
from inbox.tests.factories import make_user

_n = itertools.count(1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def wall(*args: int) -> datetime:
    """A campaign wall-clock time in its stored form (naive-as-UTC)."""
    return datetime(*args, tzinfo=UTC)


def make_contact(**fields) -> Contact:
    n = next(_n)
    fields.setdefault("name", f"Contact {n}")
    fields.setdefault("phone", f"+1555{n:07d}")
    return Contact.objects.create(**fields)


def make_contacts(n: int, **fields) -> list[Contact]:
    start = next(_n) * 100_000
    return Contact.objects.bulk_create(
        Contact(name=f"Lead {start + i}", phone=f"+1666{start + i:08d}", **fields) for i in range(n)
    )


def make_campaign(channel, *, start: datetime, end: datetime, user=None, text: str = "Hi {first_name}", **fields) -> Campaign:
    user = user or make_user(superuser=True)
    data = {"name": fields.pop("name", f"campaign {next(_n)}"), "channel": channel, "text": text, "start_at": start,
            "end_at": end, **fields}
    return campaign_create(user=user, data=data)


def start(campaign: Campaign, now: datetime):
    return campaign_start(campaign_id=campaign.id, now=now)


def drive(first: datetime, last: datetime, step: timedelta = timedelta(hours=1)) -> list[datetime]:
    """Run the dispatcher at every tick from `first` to `last` with the clock pinned there."""
    ticks = []
    at = first
    while at <= last:
        dispatch_due_messages(max_seconds=600, now=at, batch=200)
        ticks.append(at)
        at += step
    return ticks


def campaign_messages(campaign: Campaign):
    from campaigns.selectors import campaign_messages as selector

    return selector(campaign.id)


def sent(campaign: Campaign):
    return campaign_messages(campaign).filter(status="sent")


def message_of(recipient) -> Message:
    return Message.objects.get(pk=recipient.message_id)
