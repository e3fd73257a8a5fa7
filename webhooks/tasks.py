from celery import shared_task


@shared_task(ignore_result=True)
def sweep() -> int:
    from webhooks.pipeline import events_sweep

    return events_sweep()


@shared_task(ignore_result=True)
def process(event_id: int) -> str:
    from webhooks.pipeline import event_process

    return event_process(event_id=event_id)
