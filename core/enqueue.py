"""Enqueue a Celery task by name once the current transaction commits.

Services never import tasks (tasks import services): they name the task here. The row the
task will read is the schedule, so a broker that is down loses nothing; beat's periodic
tasks pick the work up, and the failure is logged, never raised into the committed request.
"""
from __future__ import annotations

import logging

from celery import current_app
from django.db import transaction

logger = logging.getLogger("switchboard.tasks")
# One attempt, bounded by the broker's socket timeouts (settings): the publish only wakes a worker
# early, so retrying it would hold the committed request (or every socket's sync thread) for nothing.
PUBLISH_RETRY_POLICY = {"max_retries": 0}


def _send(name: str, args: tuple, kwargs: dict) -> None:
    try:
        current_app.send_task(name, args=args, kwargs=kwargs, retry_policy=PUBLISH_RETRY_POLICY)
    except Exception:  # a broker that is down or frozen: beat picks the row up
        logger.warning("could not enqueue %s; beat's periodic run picks its work up", name, exc_info=True)


def task_enqueue(name: str, *args, **kwargs) -> None:
    """Send task `name` (its dotted path) after commit; at once when no transaction is open."""

    def send() -> None:
        _send(name, args, kwargs)

    send.task_name = name  # what tests (and a debugger) see of a pending enqueue

    # A function, not a functools.partial: a robust hook that raises is logged by its __qualname__,
    # which a partial lacks, so the AttributeError escaped into the committed request as a 500.
    transaction.on_commit(send, robust=True)
