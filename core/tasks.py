from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from core.models import UserEvent, WsTicket
from core.realtime import publish, relay


@shared_task(ignore_result=True)
def prune_events() -> int:
    """Drop stored socket events past the retention window (kept at least 24 h)."""

    cutoff = timezone.now() - timedelta(hours=settings.EVENT_RETENTION_HOURS)
    WsTicket.objects.filter(expires_at__lt=timezone.now() - timedelta(hours=1)).delete()
    return UserEvent.objects.filter(created_at__lt=cutoff).delete()[0]


@shared_task(ignore_result=True)
def ping(group: str, token: str) -> None:
    """Sends one frame through the channel layer: proves worker → Redis layer → socket."""

    publish([(group, {"event": "ping", "seq": None, "data": {"token": token}})])


@shared_task(ignore_result=True)
def relay_events() -> int:
    """Relay what a process killed between its commit and its relay left in the outbox."""
    return relay()
