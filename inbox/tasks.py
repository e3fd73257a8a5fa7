"""Celery tasks: thin, take ids, call services."""
from celery import shared_task


@shared_task(ignore_result=True)
def dispatch_due() -> int:
    from inbox.services.outbound import dispatch_due_messages

    return dispatch_due_messages()


@shared_task(ignore_result=True)
def wake_snoozed() -> int:
    from inbox.services.conversations import conversations_wake_snoozed

    return conversations_wake_snoozed()
