"""Celery tasks: thin, take ids, call services."""
from celery import shared_task

from inbox.services.activities import activities_dispatch_due
from inbox.services.conversations import conversations_wake_snoozed
from inbox.services.outbound import dispatch_due_messages, messages_reconcile_expired


@shared_task(ignore_result=True)
def dispatch_due() -> int:
    """Messages, then every other activity: one queue of rep-channel work, one set of rules."""
    return dispatch_due_messages() + activities_dispatch_due()


@shared_task(ignore_result=True)
def wake_snoozed() -> int:
    return conversations_wake_snoozed()


@shared_task(ignore_result=True)
def reconcile_expired() -> int:
    """Messages whose delivery stayed unknown past the timeout become failed, retryable by hand."""
    return messages_reconcile_expired()
