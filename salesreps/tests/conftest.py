"""Small builders for the sales-rep tests: a channel with activities, reps in teams, rep-channels."""
from __future__ import annotations

import itertools
from datetime import time

import pytest
from django.contrib.auth import get_user_model

from salesreps.models import Channel, ChannelActivity, SalesRep, SalesRepChannel, SalesRepChannelActivity, Team

_seq = itertools.count(1)


def make_channel(*, name: str | None = None, kind: str = "whatsapp", activities=("message",), **fields) -> Channel:
    channel = Channel.objects.create(name=name or f"Channel {next(_seq)}", kind=kind, **fields)
    for activity in activities:
        ChannelActivity.objects.create(channel=channel, name=activity)
    return channel


def make_rep(*, username: str | None = None, role: str = SalesRep.Role.REP, team: Team | None = None, **fields) -> SalesRep:
    username = username or f"rep{next(_seq)}"
    user = get_user_model().objects.create_user(username)  # no password: hashing one costs ~0.3 s per user
    return SalesRep.objects.create(user=user, full_name=username.title(), role=role, team=team, **fields)


def make_rep_channel(*, rep: SalesRep, channel: Channel, activity: str | None = "message",
                     activity_fields: dict | None = None, **fields) -> tuple[SalesRepChannel, SalesRepChannelActivity | None]:
    fields = {"start_time": time(8), "end_time": time(20), "timezone": "UTC", **fields}
    rep_channel = SalesRepChannel.objects.create(rep=rep, channel=channel, **fields)
    rca = None
    if activity:
        rca = SalesRepChannelActivity.objects.create(
            rep_channel=rep_channel, activity=channel.activities.get(name=activity), **(activity_fields or {})
        )
    return rep_channel, rca


@pytest.fixture
def team(db):
    return Team.objects.create(name="North")


@pytest.fixture
def other_team(db):
    return Team.objects.create(name="South")


@pytest.fixture
def manager(team):
    return make_rep(username="maya", role=SalesRep.Role.MANAGER, team=team)


@pytest.fixture
def rep(team):
    return make_rep(username="riley", team=team)


@pytest.fixture
def teammate(team):
    return make_rep(username="sam", team=team)


@pytest.fixture
def outsider(other_team):
    return make_rep(username="olga", team=other_team)


@pytest.fixture
def admin_user(db):
    return get_user_model().objects.create_superuser("root", "root@example.com", None)


@pytest.fixture
def channel(db):
    return make_channel(name="WhatsApp Sales", activities=("message", "like"))
