"""The webhook's request path without thread hops: signing secrets from a short-lived cache and the
raw-event INSERT through psycopg 3's async pool on the server's own event loop.

Under daphne every sync view runs on one shared thread; at hundreds of webhooks a second that
thread, not PostgreSQL, was the limit (bench/RESULTS.md). Only these two statements run here;
the statement itself, and processing, live in webhooks/pipeline.py.
"""
from __future__ import annotations

import asyncio
import time

import psycopg
from asgiref.sync import sync_to_async
from django.db import connections
from psycopg_pool import AsyncConnectionPool

from platforms.base import Adapter, RawRequest
from webhooks import pipeline

SECRETS_TTL = 1.0
_secrets: dict[tuple[str, str], tuple[float, list[str]]] = {}
_pools: dict[int, AsyncConnectionPool] = {}


async def signing_secrets(adapter: Adapter, request: RawRequest, *, fresh: bool = False) -> list[str]:
    """Candidate secrets, cached a second. A caller whose signature fails asks again with
    fresh=True, so a new channel or a rotated secret works at once; a revoked one lives ≤ 1 s."""
    key = (adapter.name, (adapter.secret_channel_name(request=request) or "").lower())
    hit = _secrets.get(key)
    now = time.monotonic()
    if fresh or hit is None or now - hit[0] > SECRETS_TTL:
        hit = (now, await in_thread(pipeline.signing_secrets, adapter, request))
        _secrets[key] = hit
    return hit[1]


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


async def store(*, platform: str, request: RawRequest, dedup_key: str, long_lived: bool = True) -> int | None:
    """Insert the raw event, committed before the answer; None if it was stored before."""
    args = pipeline.insert_args(platform=platform, request=request, dedup_key=dedup_key)
    if not long_lived:
        async with await psycopg.AsyncConnection.connect(_conninfo(), autocommit=True) as conn:
            row = await (await conn.execute(pipeline.INSERT_EVENT, args)).fetchone()
    else:
        async with (await _connection_pool()).connection() as conn:
            row = await (await conn.execute(pipeline.INSERT_EVENT, args)).fetchone()
    return row[0] if row else None
