"""Inbound pipeline: store the raw event, then process it into contacts, messages and statuses.

Storing is one INSERT … ON CONFLICT DO NOTHING on (platform, dedup key), committed before the
answer. Processing runs right after, in a small thread pool of the server process (measured
faster than a Celery hop, bench/RESULTS.md), and is idempotent: a sweep reprocesses what a crash
left behind.
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta

from django.db import close_old_connections, connection, transaction
from django.db.models import F
from django.utils import timezone

from core.logs import entity_log
from platforms import get_adapter
from platforms.base import Ignored, InboundMessage, OptOut, RawRequest, StatusUpdate, Watermark
from salesreps.models import Channel
from webhooks.models import WebhookEvent

log = entity_log("webhooks")
logger = logging.getLogger("switchboard.webhooks")
MAX_ATTEMPTS = 5
KEPT_HEADERS = ("content-type", "x-hub-signature-256", "x-twilio-signature", "x-switchboard-signature",
                "x-switchboard-channel", "x-switchboard-event-id", "user-agent")

def platform_channels(platform: str) -> list[Channel]:
    """Active channels of a platform. Read per request on purpose: a process-local cache served
    deleted channels and stale secrets after an admin edit; the query costs well under a ms."""
    return list(Channel.objects.filter(kind=platform, is_active=True).only("id", "name", "kind", "routing_key", "secrets"))


def signing_secrets(platform: str, request: RawRequest) -> list[str]:
    channels = platform_channels(platform)
    if platform == "service":
        name = request.headers.get("x-switchboard-channel", "").lower()
        channels = [c for c in channels if c.name.lower() == name]
    names = ("app_secret", "auth_token", "signing_key", "secret")
    return [c.secrets[n] for c in channels for n in names if c.secrets.get(n)]


def verify_tokens(platform: str) -> list[str]:
    return [c.secrets["verify_token"] for c in platform_channels(platform) if c.secrets.get("verify_token")]


def event_store(*, platform: str, request: RawRequest, dedup_key: str) -> int | None:
    """Insert the raw event; None if the same delivery was stored before."""
    headers = {k: v for k, v in request.headers.items() if k in KEPT_HEADERS}
    import json

    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO webhooks_webhookevent (platform, dedup_key, body, headers, url, received_at, state, attempts, error)
            VALUES (%s, %s, %s, %s, %s, now(), 'received', 0, '')
            ON CONFLICT (platform, dedup_key) DO NOTHING RETURNING id
            """,
            [platform, dedup_key[:200], request.body, json.dumps(headers), request.url],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _route(platform: str, key: str, channels: list[Channel] | None = None) -> Channel | None:
    key = key.lower()
    for channel in platform_channels(platform) if channels is None else channels:
        if key in {channel.routing_key.lower(), channel.name.lower()}:
            return channel
    return None


def _apply(platform: str, item, channels: list[Channel]) -> str:
    from inbox.services.messages import (
        message_apply_status,
        message_apply_watermark,
        message_handle_opt_out,
        message_receive,
    )

    if isinstance(item, Ignored):
        return "ignored"
    channel = _route(platform, item.channel_key, channels)
    if channel is None:
        log.warning("no channel for routing key", platform=platform, routing_key=item.channel_key)
        return "unrouted"
    if isinstance(item, InboundMessage):
        message_receive(channel=channel, event=item)
    elif isinstance(item, StatusUpdate):
        message_apply_status(channel=channel, event=item)
    elif isinstance(item, Watermark):
        message_apply_watermark(channel=channel, event=item)
    elif isinstance(item, OptOut):
        message_handle_opt_out(channel=channel, event=item)
    return "applied"


def _request_of(event: WebhookEvent) -> RawRequest:
    # received_at: Twilio sends no event time, so reprocessing keeps the original arrival time.
    return RawRequest(body=bytes(event.body), headers=event.headers, url=event.url,
                      content_type=event.headers.get("content-type", ""), received_at=event.received_at)


def _sms_route_fix(platform: str, request: RawRequest, items: list) -> list:
    """Twilio: a number in a Messaging Service pool may not match the service's SID: route by
    the service SID when a channel has it, else by the number (PITFALLS.md)."""
    if platform != "sms":
        return items
    from dataclasses import replace

    from platforms import sms

    for key in sms.channel_candidates(request=request):
        if _route(platform, key):
            return [replace(i, channel_key=key) if hasattr(i, "channel_key") else i for i in items]
    return items


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
            items = _sms_route_fix(event.platform, request, adapter.parse(request=request))
            channels = platform_channels(event.platform)  # read once per event, fresh
            outcomes = [_apply(event.platform, item, channels) for item in items]
            event.state = "processed" if any(o == "applied" for o in outcomes) or not outcomes else "ignored"
            event.processed_at = timezone.now()
            event.attempts += 1
            event.channel = next((_route(event.platform, i.channel_key, channels) for i in items if hasattr(i, "channel_key")), None)
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


def process_soon(event_id: int) -> None:
    """The stored row is already committed: hand it to a worker, or to this process's threads."""
    from django.conf import settings

    if settings.WEBHOOK_PROCESSING == "worker":
        from webhooks.tasks import process

        process.delay(event_id)
        return
    future = _executor.submit(event_process, event_id=event_id)
    _pending.add(future)
    future.add_done_callback(_pending.discard)


def drain(timeout: float = 10) -> None:
    """Wait for background processing (tests and graceful shutdown)."""
    deadline = time.monotonic() + timeout
    while _pending and time.monotonic() < deadline:
        for future in list(_pending):
            future.result(timeout=max(0.01, deadline - time.monotonic()))
