"""The webhook's request path without thread hops: channels and their signing secrets from a
short-lived cache and the raw-event INSERT through psycopg 3's async pool on the server's own event loop.

Under daphne every sync view runs on one shared thread; at hundreds of webhooks a second that
thread, not PostgreSQL, was the limit (bench/RESULTS.md). Only these statements run here;
the statements themselves, and processing, live in webhooks/pipeline.py.
"""
from __future__ import annotations

import asyncio
import time

import psycopg
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections
from psycopg_pool import AsyncConnectionPool

from platforms.base import Adapter, RawRequest
from salesreps.models import Channel
from webhooks import pipeline
from webhooks.checks import Verdict

# One entry per platform, whatever a request claims (the set of adapters bounds it): keyed by a
# header, every made-up channel name was a database read and an entry kept for ever.
_channels: dict[str, tuple[float, list[Channel]]] = {}
_read_at: dict[str, float] = {}
_pools: dict[int, AsyncConnectionPool] = {}


async def platform_channels(adapter: Adapter, *, after_failure: bool = False) -> list[Channel] | None:
    """The platform's active channels with their secrets, cached WEBHOOK_SECRETS_TTL_SECONDS. A
    request that failed against them asks again with after_failure=True and gets a fresh read, so a
    new channel or a rotated secret works at once, but at most one per WEBHOOK_SECRETS_REFRESH_SECONDS
    (None: keep the answer), so bad signatures cost no read each."""
    now = time.monotonic()
    hit = _channels.get(adapter.name)
    if not after_failure and hit is not None and now - hit[0] < settings.WEBHOOK_SECRETS_TTL_SECONDS:
        return hit[1]
    if after_failure and now - _read_at.get(adapter.name, -1e9) < settings.WEBHOOK_SECRETS_REFRESH_SECONDS:
        return None
    _read_at[adapter.name] = now  # before the read: concurrent failures share it
    channels = await in_thread(pipeline.platform_channels, adapter.name)
    _channels[adapter.name] = (now, channels)
    return channels


def forget_channels() -> None:
    """Drop the cache (tests that change channels faster than the refresh interval)."""
    _channels.clear()
    _read_at.clear()


async def in_thread(function, *args):
    """Run a short ORM read in a worker thread (not Django's one shared sync thread), handing the
    pooled connection back afterwards: executor threads never see a request end."""
    def call():
        try:
            return function(*args)
        finally:
            connections.close_all()

    return await sync_to_async(call, thread_sensitive=False)()


def _conninfo() -> str:
    params = connections["default"].get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in params.items() if isinstance(v, str | int)})


async def _connection_pool() -> AsyncConnectionPool:
    """One pool per event loop: an ASGI server has one loop for its lifetime."""
    loop = asyncio.get_running_loop()
    pool = _pools.get(id(loop))
    if pool is None:
        pool = AsyncConnectionPool(_conninfo(), min_size=2, max_size=10, open=False, kwargs={"autocommit": True})
        await pool.open()
        _pools[id(loop)] = pool
    return pool


async def store(*, platform: str, request: RawRequest, verdict: Verdict, long_lived: bool = True) -> int | str:
    """Insert the raw event, committed before the answer: its id, else "duplicate" (stored before)
    or "replayed" (its single-use token came with another event)."""
    args = pipeline.insert_args(platform=platform, request=request, dedup_key=verdict.dedup_key,
                                nonce=verdict.nonce, signed_by=verdict.signed_by)
    if not long_lived:
        async with await psycopg.AsyncConnection.connect(_conninfo(), autocommit=True) as conn:
            return await _insert(conn, platform, verdict, args)
    async with (await _connection_pool()).connection() as conn:
        return await _insert(conn, platform, verdict, args)


async def _insert(conn, platform: str, verdict: Verdict, args: list) -> int | str:
    row = await (await conn.execute(pipeline.INSERT_EVENT, args)).fetchone()
    if row:
        return row[0]
    if not verdict.nonce:
        return "duplicate"
    # Only the dedup key or the token can have conflicted; only a redelivery has the same key.
    same = await (await conn.execute(pipeline.EVENT_EXISTS, [platform, verdict.dedup_key])).fetchone()
    return "duplicate" if same[0] else "replayed"
