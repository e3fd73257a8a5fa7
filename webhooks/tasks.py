"""Celery tasks of the webhook pipeline: thin, take ids. Enqueued by name (core.enqueue), so the
pipeline never imports this module."""
from celery import shared_task

from webhooks.pipeline import event_process, events_process_pending, events_sweep


@shared_task(ignore_result=True)
def sweep() -> int:
    return events_sweep()


@shared_task(ignore_result=True)
def process(event_id: int) -> str:
    return event_process(event_id=event_id)


@shared_task(ignore_result=True)
def process_pending() -> int:
    """Every stored event not processed yet, in batches (enqueued at most every few ms per server)."""
    return events_process_pending()
