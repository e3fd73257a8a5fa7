from celery import shared_task


@shared_task(ignore_result=True)
def sweep() -> int:
    from webhooks.pipeline import events_sweep

    return events_sweep()
