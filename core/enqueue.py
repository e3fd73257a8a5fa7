"""Enqueue a Celery task by name once the current transaction commits.

Services never import tasks (tasks import services): they name the task here. The row the
task will read is the schedule, so a broker that is down loses nothing; beat's periodic
tasks pick the work up, and the failure is logged, never raised into the committed request.
"""
from __future__ import annotations

import logging
from functools import partial

from celery import current_app
from django.db import transaction

logger = logging.getLogger("switchboard.tasks")


def _send(name: str, args: tuple, kwargs: dict) -> None:
    current_app.send_task(name, args=args, kwargs=kwargs)


def task_enqueue(name: str, *args, **kwargs) -> None:
    """Send task `name` (its dotted path) after commit; at once when no transaction is open."""
    transaction.on_commit(partial(_send, name, args, kwargs), robust=True)
