"""A Celery worker killed with SIGKILL mid-way through 1,000 sends: none lost, none sent twice."""
import time

import pytest
from django.utils import timezone

from conftest import Worker
from inbox.models import Message
from inbox.tasks import dispatch_due
from inbox.tests.factories import make_channel, make_conversation, make_rep, make_rep_channel
from inbox.tests.fake_provider import FakeProvider


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_send_every_message_ends_sent_exactly_once(monkeypatch):
    monkeypatch.setenv("SEND_LEASE_SECONDS", "5")
    with FakeProvider(delay=0.005) as provider:
        rep = make_rep()
        channel = make_channel(internal_url=provider.url, secrets={"secret": "svc-secret"})
        make_rep_channel(rep, channel, sandbox=False, capacity=5000)
        conversations = [make_conversation(rep, channel) for _ in range(10)]
        now = timezone.now()
        Message.objects.bulk_create(
            Message(conversation=c, channel=channel, direction="out", status="queued", body=f"m{i}", due_at=now)
            for i in range(100) for c in conversations
        )
        worker = Worker(concurrency=2, name="victim").start()
        for _ in range(2):
            dispatch_due.delay()
        deadline = time.monotonic() + 60
        while len(provider.accepted) < 250 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert 0 < len(provider.accepted) < 1000, "the kill must land mid-way"
        worker.kill()
        killed_at = len(provider.accepted)

        survivor = Worker(concurrency=2, name="survivor").start()
        try:
            deadline = time.monotonic() + 180
            while Message.objects.exclude(status="sent").exists() and time.monotonic() < deadline:
                dispatch_due.delay()
                time.sleep(2)
        finally:
            survivor.stop()

    assert Message.objects.filter(status="sent").count() == 1000
    assert len(provider.accepted) == 1000  # distinct sends the provider performed
    assert set(provider.accepted) == {f"switchboard-msg-{m}" for m in Message.objects.values_list("id", flat=True)}
    assert killed_at < 1000
    # External ids recorded are the provider's, one per message.
    assert Message.objects.values("external_id").distinct().count() == 1000
