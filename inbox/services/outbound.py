"""Outbound dispatch: claim due rows, apply every rule under the rep-channel lock, send once.

States: queued → sending → sent | failed | deferred (→ queued again when due). Due rows live in
PostgreSQL and are claimed with select_for_update(skip_locked=True); nothing waits in a Celery
ETA. Exactly once: the claim sets a lease; capacity is reserved in the ledger (one row per
message, unique) in the same transaction as the rules; the provider is called with the
message's stable idempotency key. A claim that finds an attempt left open by a killed worker
resends only to providers that honour that key, otherwise it parks the message for
reconciliation from status webhooks (README, "Delivery guarantees"). The batches themselves are
inbox/services/dispatch.py; one message's outcomes and request are inbox/services/delivery.py.
"""
from __future__ import annotations

import logging
import time as _time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.enqueue import task_enqueue
from core.errors import AccessDenied
from inbox.models import Message
from inbox.selectors import messages_for
from inbox.services import dispatch
from inbox.services.delivery import fail, message_emit
from inbox.services.statuses import statuses_pending_sweep

logger = logging.getLogger("switchboard.messages")


def message_enqueue(*, message_id: int) -> None:
    """Wake a dispatcher once the row is committed (the row itself is the schedule)."""
    task_enqueue("inbox.tasks.dispatch_due")


# ---- claiming -------------------------------------------------------------------------------


def claim_due(*, limit: int = 50, now: datetime | None = None) -> list[int]:
    """Claim due messages (best leads first) and lease them to this worker."""
    now = now or timezone.now()
    with transaction.atomic():
        due = (
            Message.objects.select_for_update(skip_locked=True)
            .filter(direction=Message.Direction.OUTBOUND)
            .filter(Q(status__in=[Message.Status.QUEUED, Message.Status.DEFERRED], due_at__lte=now)
                    | Q(status=Message.Status.SENDING, lease_until__lt=now))
            .order_by("-priority", "due_at", "id")
            .values_list("id", flat=True)[:limit]
        )
        ids = list(due)
        if ids:
            Message.objects.filter(id__in=ids).update(
                status=Message.Status.SENDING, lease_until=now + timedelta(seconds=settings.SEND_LEASE_SECONDS)
            )
    return ids


def dispatch_due_messages(*, max_seconds: float = 20.0, batch: int = 100, now: datetime | None = None) -> int:
    """Drain due messages for a while, a batch at a time; several workers may run this at once.
    `now` is for tests that pin the clock (DST days); workers use the real time."""
    started, handled = _time.monotonic(), 0
    limits = dispatch.Limits()
    timeout = httpx.Timeout(settings.PROVIDER_TIMEOUT_SECONDS, connect=5.0)
    pool_limits = httpx.Limits(max_connections=settings.SEND_CONCURRENCY, max_keepalive_connections=settings.SEND_CONCURRENCY)
    with httpx.Client(timeout=timeout, limits=pool_limits) as client, \
            ThreadPoolExecutor(settings.SEND_CONCURRENCY, thread_name_prefix="send") as pool:
        while _time.monotonic() - started < max_seconds:
            ids = claim_due(limit=batch, now=now)
            if not ids:
                break
            try:
                _dispatch(ids, client=client, pool=pool, limits=limits, now=now)
            except Exception:  # one message's error never holds the batch: replay it message by message
                logger.exception("dispatch batch of %s messages failed; replaying one by one", len(ids))
                for message_id in ids:
                    try:
                        _dispatch([message_id], client=client, pool=pool, limits=limits, now=now)
                    except Exception:  # its lease runs out and it is claimed again; the others went on
                        logger.exception("dispatch of message %s failed", message_id)
            handled += len(ids)
    return handled


def _dispatch(ids: list[int], *, client, pool, limits, now: datetime | None) -> None:
    at = now or timezone.now()
    going = dispatch.reserve(ids, at)
    dispatch.send_all(going, client=client, pool=pool, limits=limits)
    dispatch.record(going, now or timezone.now())


def messages_reconcile_expired(*, now: datetime | None = None) -> int:
    """Fail what no status settled within RECONCILE_AFTER, with a reason a rep can act on (beat)."""
    now = now or timezone.now()
    statuses_pending_sweep(now=now)  # a status kept before the message was parked settles it first; day-old ones go
    failed = 0
    for message_id in Message.objects.filter(status=Message.Status.SENDING, needs_reconciliation=True, due_at__lte=now).values_list("id", flat=True):
        with transaction.atomic():
            message = Message.objects.select_for_update(of=("self",)).filter(pk=message_id, status=Message.Status.SENDING,
                                                                             needs_reconciliation=True).first()
            if message is None:
                continue
            message.needs_reconciliation = False
            message.save(update_fields=["needs_reconciliation"])
            # The reservation stays: the message may have gone out and used the capacity.
            fail(message, "delivery_unknown", "no status from the platform: it may or may not have arrived. "
                                               "Retry only if the person did not get it: it may arrive twice", release=False)
            failed += 1
    return failed


@transaction.atomic
def message_retry(*, user, message_id: int) -> Message:
    """A failed message retried by hand goes through the whole path again, provider included."""
    message = messages_for(user).select_for_update(of=("self",)).filter(pk=message_id, direction=Message.Direction.OUTBOUND).first()
    if message is None:
        raise AccessDenied(f"message {message_id} not found")
    if message.status != Message.Status.FAILED:
        raise ValueError(f"only failed messages can be retried (this one is {message.status})")
    message.status, message.due_at, message.error_code, message.error_title = Message.Status.QUEUED, timezone.now(), "", ""
    message.attempts = 0
    message.save(update_fields=["status", "due_at", "error_code", "error_title", "attempts"])
    message_emit(message)
    message_enqueue(message_id=message.id)
    return message
