"""The plumbing is real: a Celery worker process → Redis channel layer → a websocket on daphne."""
import asyncio
import json
import uuid

import httpx
import pytest
import websockets
from django.contrib.auth import get_user_model

from core.realtime import user_group


def _ws_url(base: str, ticket: str) -> str:
    return base.replace("http://", "ws://") + f"/ws/inbox/?ticket={ticket}"


@pytest.mark.slow
def test_worker_task_reaches_websocket_through_redis_layer(asgi_server, celery_worker_proc):
    from core.tasks import ping
    from core.ws_auth import ticket_issue

    user = get_user_model().objects.create_user("plumber", password="x" * 12)
    ticket = ticket_issue(user=user).key
    token = uuid.uuid4().hex

    async def scenario():
        async with websockets.connect(_ws_url(asgi_server, ticket)) as ws:
            ready = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert ready["event"] == "ready"
            ping.delay(user_group(user.id), token)
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 20))
                if frame["event"] == "ping":
                    return frame

    frame = asyncio.run(scenario())
    assert frame["data"]["token"] == token


def test_healthz_reports_every_part_ok(asgi_server):
    response = httpx.get(f"{asgi_server}/healthz", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "channel_layer": "ok", "broker": "ok"}


def test_login_page_is_served(asgi_server):
    response = httpx.get(f"{asgi_server}/login/", timeout=10)
    assert response.status_code == 200
    assert "Sign in" in response.text
