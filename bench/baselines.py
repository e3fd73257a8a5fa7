"""Baselines measured in the same run: bare ASGI servers, Redis, the channel layers, PostgreSQL, Celery."""
from __future__ import annotations

import asyncio
import threading
import time

from bench.config import Ctx
from bench.load import HttpPool, closed_loop, http_request, now, summary
from bench.procs import CpuWatch, start_daphne, start_uvicorn


async def hello(ctx: Ctx, server: str) -> None:
    s = ctx.sizes
    name = f"bare ASGI hello on {server}"
    params = {"server": server, "concurrency": s.hello_conc, "seconds": s.hello_s}
    started = (start_daphne("hello-daphne", "bench.hello:app", ctx.env, ctx.log_dir) if server == "daphne"
               else start_uvicorn("hello-uvicorn", "bench.hello:app", ctx.env, ctx.log_dir))
    if started is None:
        ctx.skip(f"baseline.hello.{server}", name, params, "unavailable", f"{server} is not installed (pip install {server})")
        return
    proc, port = started
    pool = HttpPool(port)
    try:
        await pool.warm(s.hello_conc)
        raw = http_request("GET", "/", port)
        await closed_loop(pool, raw, s.hello_conc, s.warmup_s)
        cpu = CpuWatch({"server": proc}).start()
        result = await closed_loop(pool, raw, s.hello_conc, s.hello_s)
        ctx.add(f"baseline.hello.{server}", name, params, {**result, **cpu.stop()})
    finally:
        pool.close()
        proc.stop()


async def redis_roundtrip(ctx: Ctx) -> None:
    """PUBLISH on one connection → the message on a SUBSCRIBEd one, one at a time."""
    import redis.asyncio as aredis

    pub, sub = aredis.Redis.from_url(ctx.redis_url), aredis.Redis.from_url(ctx.redis_url)
    pubsub = sub.pubsub()
    await pubsub.subscribe("bench-rtt")
    await pubsub.get_message(timeout=1)
    latencies = []
    t_start = now()
    for i in range(ctx.sizes.rtt_n):
        token = str(i).encode()
        t0 = now()
        await pub.publish("bench-rtt", token)
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
            if message is None:
                raise RuntimeError("redis round trip timed out")
            if message["data"] == token:
                break
        latencies.append(now() - t0)
    wall = now() - t_start
    await pubsub.aclose()
    await pub.aclose()
    await sub.aclose()
    ctx.add("baseline.redis_pubsub", "raw Redis PUBLISH→SUBSCRIBE round trip", {"round_trips": ctx.sizes.rtt_n},
            {**summary(latencies), "round_trips_per_s": round(len(latencies) / wall, 1)})


async def layer_roundtrip(ctx: Ctx, kind: str) -> None:
    """group_send → receive on one channel of a fresh layer (same Redis, own prefix)."""
    from channels_redis.core import RedisChannelLayer
    from channels_redis.pubsub import RedisPubSubChannelLayer

    hosts = [{"address": f"{ctx.redis_url}/4", "max_connections": 1000}]
    layer = (RedisChannelLayer(hosts=hosts, prefix="benchrtt") if kind == "core"
             else RedisPubSubChannelLayer(hosts=hosts, prefix="benchrtt"))
    channel = await layer.new_channel()
    await layer.group_add("rtt", channel)
    latencies = []
    t_start = now()
    for i in range(ctx.sizes.rtt_n):
        t0 = now()
        await layer.group_send("rtt", {"type": "bench.ping", "i": i})
        message = await asyncio.wait_for(layer.receive(channel), 5)
        if message["i"] != i:
            raise RuntimeError(f"{kind} layer answered {message['i']} for {i}")
        latencies.append(now() - t0)
    wall = now() - t_start
    await layer.group_discard("rtt", channel)
    if kind == "core":
        await layer.flush()
        await layer.close_pools()
    else:
        await layer.flush()
    ctx.add(f"baseline.layer.{kind}", f"channel layer group_send→receive ({kind})", {"round_trips": ctx.sizes.rtt_n},
            {**summary(latencies), "round_trips_per_s": round(len(latencies) / wall, 1)})


def _pg_insert(conninfo: dict, rows: int) -> None:
    import psycopg

    with psycopg.connect(**conninfo, autocommit=True) as conn:
        for i in range(rows):
            conn.execute("INSERT INTO bench_raw_insert (body) VALUES (%s)", [f"row {i}"])


def pg_inserts(ctx: Ctx, connections: int) -> None:
    """One-row INSERTs, each its own transaction (what a stored webhook costs), from N connections."""
    from bench.seed import _admin_conninfo

    conninfo = {**_admin_conninfo(ctx.database_url), "dbname": ctx.database_url.rsplit("/", 1)[1]}
    per = max(1, ctx.sizes.pg_rows // connections)
    threads = [threading.Thread(target=_pg_insert, args=(conninfo, per)) for _ in range(connections)]
    cpu = CpuWatch({}).start()
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    ctx.add(f"baseline.pg_insert.c{connections}", f"raw PostgreSQL INSERT, autocommit, {connections} connection(s)",
            {"rows": per * connections, "connections": connections},
            {"inserts_per_s": round(per * connections / wall, 1), "seconds": round(wall, 3), **cpu.stop()})


async def celery_noop(ctx: Ctx) -> None:
    """Publish N no-op tasks as fast as one client can; rate = N / (last one done − first published)."""
    import redis

    from bench.celery_app import noop
    from bench.seed import run_tag

    workers = {n: p for n, p in ctx.procs.items() if n.startswith("celery")}
    counter = redis.Redis.from_url(f"{ctx.redis_url}/3")
    key, n = f"noop-{run_tag()}", ctx.sizes.celery_tasks
    cpu = CpuWatch(workers).start()
    t0 = time.monotonic()
    for _ in range(n):
        noop.apply_async(args=[key])
    published = time.monotonic() - t0
    deadline = t0 + max(60, n / 20)
    while int(counter.get(key) or 0) < n and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    done = int(counter.get(key) or 0)
    wall = time.monotonic() - t0
    figures = {"tasks_per_s": round(done / wall, 1), "done": done, "publish_per_s": round(n / published, 1), **cpu.stop()}
    ctx.add("baseline.celery_noop", "bare Celery no-op task rate", {"tasks": n, "workers": len(workers), "concurrency": 1},
            figures, status="ok" if done == n else "error", note="" if done == n else f"only {done}/{n} ran")
