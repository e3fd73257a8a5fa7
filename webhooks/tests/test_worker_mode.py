"""Production processing: the web process stores the event and a Celery worker processes it."""
import time

import pytest

from inbox.models import Message
from webhooks.models import WebhookEvent
from webhooks.tests.signing import load
from webhooks.tests.test_webhooks import channels_for, parsed, post


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_stored_webhook_is_processed_by_a_celery_worker(client, settings, celery_worker_proc):
    settings.WEBHOOK_PROCESSING = "worker"
    payload = load("whatsapp", "batch__multiple_entries")
    channels_for("whatsapp", parsed("whatsapp", payload))
    assert post(client, "whatsapp", payload).status_code == 200
    deadline = time.monotonic() + 30
    while WebhookEvent.objects.filter(state="received").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert WebhookEvent.objects.get().state == "processed"
    assert Message.objects.filter(direction="in").count() >= 2
