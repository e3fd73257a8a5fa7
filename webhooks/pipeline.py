"""Inbound pipeline: store the raw event, then process it into contacts, messages and statuses.

Storing is one INSERT … ON CONFLICT DO NOTHING on (platform, dedup key), committed before the
answer. Processing runs in a Celery worker, or in a small thread pool of the server process
(WEBHOOK_PROCESSING; measured in bench/RESULTS.md), and is idempotent: a sweep reprocesses what a
crash left behind. What differs per platform (which secrets sign, how Twilio routes) is asked of
the adapter.
"""
from __future__ import annotations

import json
import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import F
from django.utils import timezone

from core.enqueue import task_enqueue
from core.logs import entity_log
from inbox.services import messages  # the module, not its functions: they are looked up per call (tests replace them)
from platforms import get_adapter
from platforms.base import Adapter, Ignored, InboundMessage, NormalizedEvent, OptOut, RawRequest, StatusUpdate, Watermark
from salesreps.models import Channel
from webhooks.models import WebhookEvent

log = entity_log("webhooks")
logger = logging.getLogger("switchboard.webhooks")
MAX_ATTEMPTS = 5
KEPT_HEADERS = ("content-type", "x-hub-signature-256", "x-twilio-signature", "x-switchboard-signature",
                "x-switchboard-channel", "x-switchboard-event-id", "user-agent")
# The one statement that stores a raw event, run by event_store (sync) and fastpath.store (the
# request path, async): a redelivery conflicts, stores nothing and returns no row.
INSERT_EVENT = """
    INSERT INTO webhooks_webhookevent (platform, dedup_key, body, headers, url, received_at, state, attempts, error)
    VALUES (%s, %s, %s, %s, %s, now(), 'received', 0, '')
    ON CONFLICT (platform, dedup_key) DO NOTHING RETURNING id
"""


def platform_channels(platform: str) -> list[Channel]:
    """Active channels of a platform. Read per request on purpose: a process-local cache served
    deleted channels and stale secrets after an admin edit; the query costs well under a ms."""
    return list(Channel.objects.filter(kind=platform, is_active=True).only("id", "name", "kind", "routing_key", "secrets"))


def signing_secrets(adapter: Adapter, request: RawRequest) -> list[str]:
    """The secrets that may have signed `request`: the adapter's signing secrets of its channels,
    or of the one channel the request names."""
    channels = platform_channels(adapter.name)
    name = adapter.secret_channel_name(request=request)
    if name is not None:
        channels = [c for c in channels if c.name.lower() == name.lower()]
    return [c.secrets[n] for c in channels for n in adapter.signing_secret_names if c.secrets.get(n)]


def verify_tokens(adapter: Adapter) -> list[str]:
    return [c.secrets[n] for c in platform_channels(adapter.name) for n in adapter.handshake_secret_names if c.secrets.get(n)]


def insert_args(*, platform: str, request: RawRequest, dedup_key: str) -> list:
    """INSERT_EVENT's parameters. Only headers that reprocessing or an audit needs are kept."""
    headers = {k: v for k, v in request.headers.items() if k in KEPT_HEADERS}
    return [platform, dedup_key[:200], request.body, json.dumps(headers), request.url]


def event_store(*, platform: str, request: RawRequest, dedup_key: str) -> int | None:
    """Insert the raw event; None if the same delivery was stored before."""
    with connection.cursor() as cursor:
        cursor.execute(INSERT_EVENT, insert_args(platform=platform, request=request, dedup_key=dedup_key))
        row = cursor.fetchone()
    return row[0] if row else None


def _route(key: str, channels: list[Channel]) -> Channel | None:
    key = key.lower()
    return next((c for c in channels if key in {c.routing_key.lower(), c.name.lower()}), None)


def _rerouted(adapter: Adapter, request: RawRequest, items: list[NormalizedEvent], channels: list[Channel]) -> list[NormalizedEvent]:
    """Route every item by the first of the adapter's candidates that names a channel, else by the
    items' own keys (Twilio: a pooled number may not be the one a channel was set up with, PITFALLS.md)."""
    for key in adapter.channel_candidates(request=request):
        if _route(key, channels):
            return [item if isinstance(item, Ignored) else replace(item, channel_key=key) for item in items]
    return items


def _apply(platform: str, item: NormalizedEvent, channels: list[Channel]) -> str:
    if isinstance(item, Ignored):
        return "ignored"
    channel = _route(item.channel_key, channels)
    if channel is None:
        log.warning("no channel for routing key", platform=platform, routing_key=item.channel_key)
        return "unrouted"
    if isinstance(item, InboundMessage):
        messages.message_receive(channel=channel, event=item)
    elif isinstance(item, StatusUpdate):
        messages.message_apply_status(channel=channel, event=item)
    elif isinstance(item, Watermark):
        messages.message_apply_watermark(channel=channel, event=item)
    elif isinstance(item, OptOut):
        messages.message_handle_opt_out(channel=channel, event=item)
    return "applied"


def _request_of(event: WebhookEvent) -> RawRequest:
    # received_at: Twilio sends no event time, so reprocessing keeps the original arrival time.
    return RawRequest(body=bytes(event.body), headers=event.headers, url=event.url,
                      content_type=event.headers.get("content-type", ""), received_at=event.received_at)


def event_process(*, event_id: int) -> str:
    """Process one stored event exactly once; returns its final state."""
    close_old_connections()
    try:
        with transaction.atomic():
            event = WebhookEvent.objects.select_for_update(skip_locked=True).filter(pk=event_id, state="received").first()
            if event is None:
                return "skipped"
            adapter = get_adapter(event.platform)
            request = _request_of(event)
            parsed = adapter.parse(request=request)
            channels = platform_channels(event.platform)  # read once per event, fresh
            items = _rerouted(adapter, request, parsed, channels)
            outcomes = [_apply(event.platform, item, channels) for item in items]
            event.state = "processed" if any(o == "applied" for o in outcomes) or not outcomes else "ignored"
            event.processed_at = timezone.now()
            event.attempts += 1
            event.channel = next((_route(i.channel_key, channels) for i in items if not isinstance(i, Ignored)), None)
            event.save(update_fields=["state", "processed_at", "attempts", "channel"])
        log.info("webhook processed", webhook_event=event_id, platform=event.platform, items=len(items), state=event.state)
        return event.state
    except Exception as exc:
        logger.exception("webhook processing failed")
        WebhookEvent.objects.filter(pk=event_id).update(
            attempts=F("attempts") + 1, error=f"{type(exc).__name__}: {exc}"[:2000],
        )
        WebhookEvent.objects.filter(pk=event_id, attempts__gte=MAX_ATTEMPTS).update(state="failed")
        log.error("webhook processing failed", webhook_event=event_id, error=type(exc).__name__)
        return "error"
    finally:
        close_old_connections()


def events_sweep(*, older_than_seconds: int = 30) -> int:
    """Reprocess events a crash left unprocessed (Celery beat)."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(WebhookEvent.objects.filter(state="received", received_at__lt=cutoff).order_by("id").values_list("id", flat=True)[:1000])
    done = sum(1 for event_id in ids if event_process(event_id=event_id) in ("processed", "ignored"))
    if ids:
        log.info("webhook sweep", found=len(ids), processed=done)
    return done


# Processing waits on PostgreSQL round trips far more than it computes: 8 threads keep the
# database busy without starving the event loop (bench/RESULTS.md).
_executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="webhook")
_pending: set[Future] = set()


def _enqueue(event_id: int) -> None:
    try:
        task_enqueue("webhooks.tasks.process", event_id)
    finally:
        # on_commit asked a pooled connection whether a transaction is open: hand it back.
        close_old_connections()


def process_soon(event_id: int) -> None:
    """The stored row is already committed: hand it to a worker, or to this process's threads.

    Called on the event loop, so even the broker publish runs on a thread: Django refuses its
    connection on the loop, and a broker that is down would stall it (PITFALLS.md). Losing the
    publish loses nothing; the sweep finds the row."""
    work = partial(_enqueue, event_id) if settings.WEBHOOK_PROCESSING == "worker" else partial(event_process, event_id=event_id)
    future = _executor.submit(work)
    _pending.add(future)
    future.add_done_callback(_pending.discard)


def drain(timeout: float = 10) -> None:
    """Wait for background processing (tests and graceful shutdown)."""
    deadline = time.monotonic() + timeout
    while _pending and time.monotonic() < deadline:
        for future in list(_pending):
            future.result(timeout=max(0.01, deadline - time.monotonic()))
