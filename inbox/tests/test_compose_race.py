"""Twelve sends composed at once for a rep outside their shift, while a real Celery worker defers
them, in a team with two managers and an admin watching: every compose answers 201 (it deadlocked
and answered 500 when the event counters were locked inside the business transaction)."""
from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from rest_framework.test import APIClient

from core.models import EventOutbox, UserEvent
from inbox.models import Message
from inbox.tests.factories import make_channel, make_conversation, make_rep, make_rep_channel, make_team, make_user
from inbox.tests.test_outbound import local_window_around_now


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_twelve_concurrent_composes_outside_the_shift_all_answer_201(celery_worker_proc):
    team = make_team()
    managers = [make_rep(team=team, role="manager") for _ in range(2)]
    admin = make_user(superuser=True)
    rep = make_rep(team=team)
    channel = make_channel()
    start, end = local_window_around_now("UTC", before_h=-3, after_h=5)  # the shift opens in 3 h
    make_rep_channel(rep, channel, start=start, end=end, tz="UTC")
    conversation = make_conversation(rep, channel)
    barrier = threading.Barrier(12)
    statuses: list[int] = []

    def compose(n: int) -> None:
        client = APIClient()
        client.force_authenticate(rep.user)
        barrier.wait()
        try:
            response = client.post(f"/api/conversations/{conversation.id}/messages/", {"text": f"offer {n}"}, format="json",
                                   HTTP_IDEMPOTENCY_KEY=f"race-{n}")
            statuses.append(response.status_code)
        except Exception as exc:  # a deadlock would surface here (the test client re-raises)
            statuses.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=compose, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert statuses == [201] * 12
    deadline = time.monotonic() + 60
    # every deferral committed, and relayed: its outbox row is deleted in the relay's transaction
    while time.monotonic() < deadline and (Message.objects.filter(status="deferred").count() < 12
                                           or EventOutbox.objects.exists()):
        time.sleep(0.2)
    messages = Message.objects.filter(conversation=conversation)
    assert set(messages.values_list("status", "defer_code")) == {("deferred", "outside_shift")}
    # every watcher got each message's creation and its deferral, each seq once and gap-free
    for user in (rep.user, managers[0].user, managers[1].user, admin):
        events = list(UserEvent.objects.filter(user=user).order_by("seq").values_list("seq", "name"))
        assert [seq for seq, _ in events] == list(range(1, len(events) + 1))
        names = [name for _, name in events]
        assert names.count("message.created") == 12 and names.count("message.updated") == 12
