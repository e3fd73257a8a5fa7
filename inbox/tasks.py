"""Celery tasks: thin, take ids, call services."""
from celery import shared_task

from inbox.services.conversations import conversations_wake_snoozed
from inbox.services.outbound import dispatch_due_messages


@shared_task(ignore_result=True)
def dispatch_due() -> int:
    return dispatch_due_messages()


@shared_task(ignore_result=True)
def wake_snoozed() -> int:
    return conversations_wake_snoozed()
