"""Small builders for tests: real rows in the real database, nothing mocked."""
from __future__ import annotations

import itertools
import threading
from datetime import time

from django.contrib.auth import get_user_model
from django.db import connection

from inbox.models import Contact, ContactIdentity, Conversation
from salesreps.models import Channel, ChannelActivity, SalesRep, SalesRepChannel, SalesRepChannelActivity, Team

_n = itertools.count(1)


def make_team(name: str = "") -> Team:
    return Team.objects.create(name=name or f"team-{next(_n)}")


def make_user(username: str = "", *, superuser: bool = False):
    User = get_user_model()
    username = username or f"user{next(_n)}"
    if superuser:
        return User.objects.create_superuser(username, password="pass-" + username)
    return User.objects.create_user(username, password="pass-" + username)


def make_rep(username: str = "", *, team: Team | None = None, role: str = "rep") -> SalesRep:
    user = make_user(username)
    return SalesRep.objects.create(user=user, full_name=user.username.title(), team=team, role=role)


def make_channel(kind: str = "service", *, name: str = "", routing_key: str = "", secrets: dict | None = None,
                 **fields) -> Channel:
    name = name or f"{kind}-{next(_n)}"
    channel = Channel.objects.create(name=name, kind=kind, routing_key=routing_key or name,
                                     secrets=secrets or {"secret": "s3cret", "app_secret": "s3cret"}, **fields)
    ChannelActivity.objects.create(channel=channel, name="message")
    return channel


def make_rep_channel(rep: SalesRep, channel: Channel, *, start=time(0, 0), end=time(23, 59, 59), tz="UTC",
                     capacity=1000, sandbox=True, **fields) -> SalesRepChannel:
    rc = SalesRepChannel.objects.create(rep=rep, channel=channel, start_time=start, end_time=end, timezone=tz,
                                        max_daily_capacity=capacity, sandbox=sandbox, **fields)
    SalesRepChannelActivity.objects.create(rep_channel=rc, activity=channel.activities.get(name="message"))
    return rc


def make_conversation(rep: SalesRep | None, channel: Channel, *, contact: Contact | None = None,
                      external_id: str = "", **contact_fields) -> Conversation:
    contact = contact or Contact.objects.create(name=contact_fields.pop("name", f"Contact {next(_n)}"), **contact_fields)
    ContactIdentity.objects.get_or_create(contact=contact, channel=channel,
                                          defaults={"external_id": external_id or f"ext-{contact.id}"})
    return Conversation.objects.create(contact=contact, channel=channel, rep=rep)


def race(threads: int, work) -> tuple[list, list[Exception]]:
    """Run `work()` in `threads` threads at once, each closing its own database connection;
    returns what they answered and the errors they raised (tests assert both)."""
    results, errors = [], []

    def run():
        try:
            results.append(work())
        except Exception as exc:  # surfaced to the test
            errors.append(exc)
        finally:
            connection.close()

    running = [threading.Thread(target=run) for _ in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()
    return results, errors
