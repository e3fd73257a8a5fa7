"""Inbound pipeline: store the raw event, then process it into contacts, messages and statuses.

Storing is one INSERT … ON CONFLICT DO NOTHING on (platform, dedup key) and on a single-use
token, committed before the answer, with the ids of the channels whose secret signed it: an item
is applied only to one of those channels (webhooks/routing.py). Processing runs in a Celery worker,
or in a small thread pool of the server process (WEBHOOK_PROCESSING; measured in bench/RESULTS.md),
and is idempotent: a sweep reprocesses what a crash left behind. What differs per platform (which secrets sign, how Twilio routes) is asked of
the adapter.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import F
from django.utils import timezone

from core.enqueue import task_enqueue
from core.logs import entity_log
from inbox.services import inbound
from platforms import get_adapter
from platforms.base import Adapter, NormalizedEvent, RawRequest
from salesreps.models import Channel
from webhooks import routing
from webhooks.models import WebhookEvent

log = entity_log("webhooks")
logger = logging.getLogger("switchboard.webhooks")
MAX_ATTEMPTS = 5
BATCH_SIZE = 200  # events per transaction: bench/DECISIONS.md
KEPT_HEADERS = ("content-type", "x-hub-signature-256", "x-twilio-signature", "x-switchboard-signature",
                "x-switchboard-channel", "x-switchboard-event-id", "user-agent")
# The one statement that stores a raw event, run by event_store (sync) and fastpath.store (the
# request path, async): a redelivery, or a reused single-use token, conflicts, stores nothing and
# returns no row.
INSERT_EVENT = """
    INSERT INTO webhooks_webhookevent (platform, dedup_key, nonce, signed_by, body, headers, url, received_at, state,
                                       attempts, error)
    VALUES (%s, %s, %s, %s::bigint[], %s, %s, %s, now(), 'received', 0, '')
    ON CONFLICT DO NOTHING RETURNING id
"""
EVENT_EXISTS = "SELECT EXISTS (SELECT 1 FROM webhooks_webhookevent WHERE platform = %s AND dedup_key = %s)"


def platform_channels(platform: str) -> list[Channel]:
    """Active channels of a platform. Read per request on purpose: a process-local cache served
    deleted channels and stale secrets after an admin edit; the query costs well under a ms."""
    return list(Channel.objects.filter(kind=platform, is_active=True).only("id", "name", "kind", "routing_key", "secrets"))


def verify_tokens(adapter: Adapter) -> list[str]:
    return [c.secrets[n] for c in platform_channels(adapter.name) for n in adapter.handshake_secret_names if c.secrets.get(n)]


def insert_args(*, platform: str, request: RawRequest, dedup_key: str, nonce: str = "",
                signed_by: tuple[int, ...] | None = None) -> list:
    """INSERT_EVENT's parameters. Only headers that reprocessing or an audit needs are kept;
    `signed_by` None: not verified per channel (an internal caller), not bound at processing."""
    headers = {k: v for k, v in request.headers.items() if k in KEPT_HEADERS}
    return [platform, dedup_key, nonce, None if signed_by is None else list(signed_by), request.body,
            json.dumps(headers), request.url]


def event_store(*, platform: str, request: RawRequest, dedup_key: str) -> int | None:
    """Insert the raw event (internal callers: tests, tools); None if the same delivery was stored before."""
    with connection.cursor() as cursor:
        cursor.execute(INSERT_EVENT, insert_args(platform=platform, request=request, dedup_key=dedup_key))
        row = cursor.fetchone()
    return row[0] if row else None


def _request_of(event: WebhookEvent) -> RawRequest:
    # received_at: Twilio sends no event time, so reprocessing keeps the original arrival time.
    return RawRequest(body=bytes(event.body), headers=event.headers, url=event.url,
                      content_type=event.headers.get("content-type", ""), received_at=event.received_at)


def _routed(event: WebhookEvent, channels: list[Channel]) -> tuple[list[tuple[Channel, NormalizedEvent]], str, Channel | None]:
    """Parse a stored event: its items with their channels, its final state and its channel."""
    adapter = get_adapter(event.platform)
    request = _request_of(event)
    items = adapter.parse(request=request)
    routed, bound = [], {}
    for channel, item in routing.routed(adapter, request, items, channels):
        if channel is None:
            log.warning("no channel for routing key", platform=event.platform, routing_key=item.channel_key)
            continue
        if channel.id not in bound:
            bound[channel.id] = _signed_for(event, adapter, request, channel)
        if not bound[channel.id]:
            log.warning("event not signed with its channel's secret", platform=event.platform, channel=channel.id,
                        webhook_event=event.id)
            continue
        routed.append((channel, item))
    state = "processed" if routed or not items else "ignored"
    return routed, state, routed[0][0] if routed else None


def _signed_for(event: WebhookEvent, adapter: Adapter, request: RawRequest, channel: Channel) -> bool:
    """Whether the channel's own secret signed the event: recorded at receipt, or (a channel the
    receiving process did not know yet) verified again as of the event's arrival. A secret rotated
    since receipt still counts: the id was recorded."""
    if event.signed_by is None or channel.id in event.signed_by:
        return True
    return bool(routing.signed_by(adapter, request, [channel], event.received_at.timestamp()))


def _mark(done: list[tuple[int, str, Channel | None]]) -> None:
    """Each (event id, state, channel) processed now: one UPDATE."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE webhooks_webhookevent AS e SET state = t.state, processed_at = now(), attempts = e.attempts + 1,"
            " channel_id = t.channel_id FROM unnest(%s::bigint[], %s::text[], %s::bigint[]) AS t(id, state, channel_id)"
            " WHERE e.id = t.id",
            [[d[0] for d in done], [d[1] for d in done], [d[2].id if d[2] else None for d in done]],
        )


def event_process(*, event_id: int) -> str:
    """Process one stored event exactly once; returns its final state. The sweep's path, and the
    replay of a batch that failed: an event that fails here keeps its error."""
    close_old_connections()
    try:
        with transaction.atomic():
            event = WebhookEvent.objects.select_for_update(skip_locked=True).filter(pk=event_id, state="received").first()
            if event is None:
                return "skipped"
            routed, state, channel = _routed(event, platform_channels(event.platform))
            inbound.events_apply(routed)
            _mark([(event.id, state, channel)])
        log.info("webhook processed", webhook_event=event_id, platform=event.platform, items=len(routed), state=state)
        return state
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


class NotRedrivable(ValueError):
    """Only an event left unrouted (ignored) or failed is re-driven; others are processed or pending."""


REDRIVABLE = ("ignored", "failed")


def event_redrive(*, event_id: int) -> str:
    """An operator's second try at a stored event that was unrouted (ignored: no channel had its
    routing key or signed it) or failed: back to received with fresh attempts, then processed now,
    against the channels as they are now; returns its new state. WebhookEvent.DoesNotExist when there
    is no such event, NotRedrivable for one in another state."""
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().filter(pk=event_id).first()
        if event is None:
            raise WebhookEvent.DoesNotExist(f"no webhook event {event_id}")
        if event.state not in REDRIVABLE:
            raise NotRedrivable(f"webhook event {event_id} is {event.state}: only unrouted (ignored) or failed events "
                                "can be re-driven")
        WebhookEvent.objects.filter(pk=event_id).update(state="received", attempts=0, error="", processed_at=None)
    log.info("webhook re-driven", webhook_event=event_id, previous_state=event.state)
    return event_process(event_id=event_id)


def events_process_batch(*, limit: int = BATCH_SIZE) -> int:
    """Claim up to `limit` fresh stored events (skipping those another batch holds) and process
    them together in one transaction; returns how many were claimed. If anything in the batch
    fails, it is rolled back and replayed event by event, so one poisoned event keeps its error
    and never holds the others back; events that failed before are left to the sweep."""
    close_old_connections()
    claimed: list[int] = []
    try:
        with transaction.atomic():
            events = list(WebhookEvent.objects.select_for_update(skip_locked=True)
                          .filter(state="received", attempts=0).order_by("id")[:limit])
            claimed = [e.id for e in events]
            channels: dict[str, list[Channel]] = {}  # read once per batch, fresh
            routed, done = [], []
            for event in events:
                if event.platform not in channels:
                    channels[event.platform] = platform_channels(event.platform)
                items, state, channel = _routed(event, channels[event.platform])
                routed += items
                done.append((event.id, state, channel))
            inbound.events_apply(routed)
            if done:
                _mark(done)
        if claimed:
            log.info("webhook batch processed", events=len(claimed), items=len(routed), first=claimed[0], last=claimed[-1])
        return len(claimed)
    except Exception as exc:
        log.warning("webhook batch failed: replaying it event by event", events=len(claimed), error=type(exc).__name__)
        for event_id in claimed:
            event_process(event_id=event_id)
        return len(claimed)
    finally:
        close_old_connections()


def events_process_pending(*, limit: int = BATCH_SIZE) -> int:
    """Process batches until none is left; returns how many events were claimed."""
    total = 0
    while True:
        count = events_process_batch(limit=limit)
        total += count
        if count < limit:
            return total


def events_sweep(*, older_than_seconds: int = 30) -> int:
    """Reprocess events a crash left unprocessed (Celery beat)."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(WebhookEvent.objects.filter(state="received", received_at__lt=cutoff).order_by("id").values_list("id", flat=True)[:1000])
    done = sum(1 for event_id in ids if event_process(event_id=event_id) in ("processed", "ignored"))
    if ids:
        log.info("webhook sweep", found=len(ids), processed=done)
    return done


_executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhook")
_pending: set[Future] = set()


class Coalescer:
    """Runs `work` soon after every poke, at most `parallel` at a time, without one run per poke.

    A poke while all runners are busy only marks more work; a runner checks the mark after its
    work and goes again. A runner clears the mark before it starts, so every poke is followed by
    a run that starts after it: no stored event waits for the sweep. `gap` spaces the runs (the
    broker publish of worker mode: ≤ 1/gap tasks a second per process, however many webhooks)."""

    def __init__(self, work, *, parallel: int = 1, gap: float = 0.0):
        self.work, self.parallel, self.gap = work, parallel, gap
        self._lock = threading.Lock()
        self._running = 0
        self._more = False

    def poke(self) -> None:
        with self._lock:
            if self._running >= self.parallel:
                self._more = True
                return
            self._running += 1
        future = _executor.submit(self._run)
        _pending.add(future)
        future.add_done_callback(_pending.discard)

    def _run(self) -> None:
        while True:
            with self._lock:
                self._more = False
            try:
                self.work()
            except Exception:  # the sweep recovers whatever this run missed
                logger.exception("webhook processing run failed")
            if self.gap:
                time.sleep(self.gap)
            with self._lock:
                if not self._more:
                    self._running -= 1
                    return


def _enqueue() -> None:
    try:
        task_enqueue("webhooks.tasks.process_pending")
    finally:
        # on_commit asked a pooled connection whether a transaction is open: hand it back.
        close_old_connections()


# Worker mode: one broker publish per 20 ms at most; each task drains every stored event in
# batches. Server mode: two threads of this process drain them (bench/RESULTS.md).
_to_worker = Coalescer(_enqueue, gap=0.02)
_in_server = Coalescer(events_process_pending, parallel=2)


def process_soon(event_id: int) -> None:
    """The stored row is already committed: have it processed, in a batch with its neighbours.

    Called on the event loop, so even the broker publish runs on a thread: Django refuses its
    connection on the loop, and a broker that is down would stall it (PITFALLS.md). Losing the
    publish loses nothing; the sweep finds the row."""
    (_to_worker if settings.WEBHOOK_PROCESSING == "worker" else _in_server).poke()


def drain(timeout: float = 10) -> None:
    """Wait for background processing (tests and graceful shutdown)."""
    deadline = time.monotonic() + timeout
    while _pending and time.monotonic() < deadline:
        for future in list(_pending):
            future.result(timeout=max(0.01, deadline - time.monotonic()))
