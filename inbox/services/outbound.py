"""Outbound dispatch (filled in by the outbound issue)."""
from django.db import transaction


def message_enqueue(*, message_id: int) -> None:
    from inbox.tasks import dispatch_due

    transaction.on_commit(lambda: dispatch_due.delay())
