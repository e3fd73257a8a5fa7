"""GET /healthz: database, channel layer (a real round trip) and Celery broker."""
import asyncio
import logging
import uuid

import redis
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import JsonResponse

logger = logging.getLogger("switchboard.health")


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_broker() -> None:
    redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2).ping()


async def _check_layer() -> None:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    token = uuid.uuid4().hex
    group = f"health.{token}"
    await layer.group_add(group, channel)
    try:
        await layer.group_send(group, {"type": "health.ping", "token": token})
        message = await asyncio.wait_for(layer.receive(channel), timeout=2)
        if message.get("token") != token:
            raise RuntimeError("round trip returned another message")
    finally:
        await layer.group_discard(group, channel)


async def healthz(request):
    """Each part's name with ok or error, and nothing more: the answer is public, and exception text
    names hosts and users. What failed, and why, goes to the log."""
    parts = {}
    for name, check in (("database", sync_to_async(_check_database)), ("channel_layer", _check_layer),
                        ("broker", sync_to_async(_check_broker))):
        try:
            await check()
            parts[name] = "ok"
        except Exception:  # any failure of a part is reported, never raised
            logger.warning("healthz: %s failed", name, exc_info=True)
            parts[name] = "error"
    ok = all(v == "ok" for v in parts.values())
    return JsonResponse({"status": "ok" if ok else "error", **parts}, status=200 if ok else 503)
