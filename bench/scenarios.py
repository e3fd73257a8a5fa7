"""Scenarios against real servers: signed webhooks → a rep's socket at fixed arrival rates (the app
and the tutorial-style pipeline), idle authenticated sockets, and one event to a team of managers.
Sockets are a real audience (World.socket_users): reps with their teams' managers and the admin."""
from __future__ import annotations

import asyncio
import time
from collections import Counter

import psutil

from bench.config import Ctx
from bench.load import HttpPool, http_request, now, open_loop, summary
from bench.procs import CpuWatch, Proc, start_celery, start_daphne, wait_celery
from bench.seed import issue_tickets, run_tag, whatsapp_webhook
from bench.sockets import Fleet, marker

STEP_IDS = iter(range(1, 10**6))
# Seconds of a full run kept for what follows the app phase: status burst (~3.5 min), scale-out
# (~1.5 min), services (~2.5 min), fan-out (~1.5 min).
KEEP_AFTER_APP = 540


async def rate_step(ctx: Ctx, *, fleet: Fleet, pool: HttpPool, port: int, targets: list[tuple[int, str]], rate: float,
                    seconds: float, watch: dict[str, Proc], backlog=None, reserve: float = 60) -> dict:
    """One open-loop step: event i → targets[i % len] (user id, wa_id). Latency of every frame that
    arrived on the target's socket; lost = never arrived there while the server worked off the step
    (settle_s None: it never did). CPU per event of each watched process over sending and settling."""
    step, n, tag = next(STEP_IDS), ctx.sizes.events(rate, seconds), run_tag()
    ts = int(time.time())
    reqs = []
    for i in range(n):
        uid, wa = targets[i % len(targets)]
        mk = marker(step, i)
        reqs.append((mk, uid, whatsapp_webhook(wa=wa, text=f"bench {mk}", message_id=f"wamid.{tag}.{mk}", ts=ts, port=port)))
    sent: dict[str, float] = {}
    answers: Counter = Counter()
    http_lat: list[float] = []
    stalls0 = pool.stalls
    mark = await asyncio.to_thread(backlog.mark) if backlog else None

    async def fire(i: int) -> None:
        mk, _, raw = reqs[i]
        status, t0, t1 = await pool.request(raw, on_send=lambda t: sent.__setitem__(mk, t))
        answers[status] += 1
        if status == 200:
            http_lat.append(t1 - t0)

    fleet.reset_marks()
    fleet.expect.update((mk, uid) for mk, uid, _ in reqs)
    misrouted0, audience0 = fleet.misrouted, fleet.audience_frames
    cpu, cpu_all = CpuWatch(watch).start(), CpuWatch(watch).start()
    run = await open_loop(rate, n, fire)
    cpu_figures = cpu.stop()
    settle_s = await _settle(ctx, lambda: fleet.per_step[step] >= n, run["tasks"],
                             (lambda: backlog.count(mark)) if backlog else None, reserve)
    cpu_all.stop()
    latencies, arrivals = [], []
    for mk, _, _ in reqs:
        got = fleet.first.get(mk)
        if got and mk in sent:
            latencies.append(got[0] - sent[mk])
            arrivals.append(got[0])
    first_fire, last_fire = run["t0"] + run["lags"][0], run["t0"] + (n - 1) / rate + run["lags"][-1]
    span = (max(arrivals) - first_fire) if arrivals else 0
    return {
        "events": n, "offered_per_s": rate, "sent_per_s": round((n - 1) / max(last_fire - first_fire, 1e-6), 1),
        "delivered": len(latencies), "lost": n - len(latencies), "misrouted": fleet.misrouted - misrouted0,
        "audience_frames": fleet.audience_frames - audience0,
        "delivered_per_s": round(len(latencies) / span, 1) if span else 0.0,
        **summary(latencies), **summary(http_lat, "http_"), "http_ok": answers[200], "http_failed": n - answers[200],
        "generator_lag_p99_ms": summary(run["lags"])["p99_ms"], "generator_stalls": pool.stalls - stalls0,
        **cpu_figures, "settle_s": settle_s, **cpu_all.per_event(len(latencies)),
    }


async def _settle(ctx: Ctx, all_in, tasks: list, backlog, reserve: float) -> float | None:
    """After the last send: until every frame arrived, or every request was answered and the server's
    queue is empty (plus a second for frames still on their way); None if the cap came first."""
    t0 = now()
    cap = min(ctx.sizes.backlog_cap_s, max(5.0, ctx.spare(reserve)))
    idle_since = None
    while now() - t0 < cap:
        if all_in():
            return round(now() - t0, 2)
        if all(t.done() for t in tasks) and (backlog is None or await asyncio.to_thread(backlog) == 0):
            idle_since = idle_since or now()
            if now() - idle_since > 1.0:
                return round(now() - t0, 2)
        await asyncio.sleep(0.05)
    for t in tasks:
        t.cancel()
    return None


class WebhookBacklog:
    """Webhook events stored by this step and not processed yet (id watermark: leftovers of a killed
    server do not count)."""

    @staticmethod
    def mark() -> int:
        from django.db import connection
        from django.db.models import Max

        from webhooks.models import WebhookEvent

        try:
            return WebhookEvent.objects.aggregate(m=Max("id"))["m"] or 0
        finally:
            connection.close()

    @staticmethod
    def count(after: int) -> int:
        from django.db import connection

        from webhooks.models import WebhookEvent

        try:
            return WebhookEvent.objects.filter(id__gt=after, state="received").count()
        finally:
            connection.close()


def _qualifies(figures: dict) -> bool:
    return figures["lost"] == 0 and figures["p99_ms"] is not None and figures["p99_ms"] < 100


async def ladder(ctx: Ctx, *, kind: str, label: str, fleet: Fleet, port: int, targets, rates, watch, backlog,
                 reserve: float, sockets: int) -> None:
    """Rates in order; once one misses p99 < 100 ms, the higher ones send for overload_step_s only."""
    s = ctx.sizes
    pool = HttpPool(port)
    await pool.warm(min(64, 4 * len(targets)))
    carry, short = None, False
    for rate in rates:
        seconds = min(s.step_s, s.overload_step_s) if short else s.step_s
        params = {"sockets": sockets, "connected": fleet.size, "rep_targets": len(targets), "rate_per_s": rate,
                  "step_s": seconds, "payload": "whatsapp"}
        name = f"{label}: {fleet.size} sockets ({len(targets)} reps) at {rate}/s"
        if carry or ctx.spare(reserve + 90) < 0:
            ctx.skip(kind, name, params, "skipped", carry or "time budget of the run is used up")
            continue
        figures = await rate_step(ctx, fleet=fleet, pool=pool, port=port, targets=targets, rate=rate, seconds=seconds,
                                  watch=watch, backlog=backlog, reserve=reserve)
        ctx.add(kind, name, params, figures)
        short = short or not _qualifies(figures)
        if figures["settle_s"] is None:
            carry = f"not run: the server was still working off the {rate}/s step after {s.backlog_cap_s:.0f} s"
    pool.close()


async def connect_users(ctx: Ctx, fleet: Fleet, user_ids: list[int], path: str = "/ws/inbox/?ticket={}",
                        within: float | None = None, concurrency: int = 16) -> dict:
    """Connect `concurrency` at a time (the server redeems tickets and joins groups one at a time in its
    sync thread anyway). Tickets come from the app's ticket_issue in batches of 32 just ahead of use,
    so none is older than a few seconds; no new socket is started after `within` seconds."""
    queue: asyncio.Queue = asyncio.Queue(maxsize=2 * concurrency)
    failures: Counter = Counter()
    counts = Counter()
    t0 = now()

    async def produce() -> None:
        try:
            for i in range(0, len(user_ids), 32):
                if within is not None and now() - t0 > within:
                    counts["not_attempted"] = len(user_ids) - i
                    break
                batch = user_ids[i:i + 32]
                keys = await asyncio.to_thread(issue_tickets, batch) if "ticket=" in path else batch
                for uid, key in zip(batch, keys, strict=True):
                    await queue.put((uid, path.format(key)))
        finally:
            for _ in range(concurrency):
                await queue.put(None)

    async def consume() -> None:
        while (item := await queue.get()) is not None:
            counts["connected" if await fleet.connect_one(*item, failures) else "failed"] += 1

    await asyncio.gather(produce(), *(consume() for _ in range(concurrency)))
    seconds = now() - t0
    return {"connected": counts["connected"], "failed": counts["failed"], "not_attempted": counts["not_attempted"],
            **{f"failed: {k}": v for k, v in failures.items()}, "seconds": round(seconds, 2),
            "rate": round(counts["connected"] / max(seconds, 1e-6), 1)}


async def idle_point(ctx: Ctx, fleet: Fleet, server: Proc, rss0: int, connect: dict, tier: int) -> None:
    """RSS and CPU of the daphne process while `tier` sockets (as many as could be opened) sit idle."""
    await fleet.quiet(ctx.sizes.quiet_s, 30)
    frames0 = fleet.frames
    cpu = CpuWatch({"server": server}).start()
    peak, t_end = server.rss(), now() + ctx.sizes.idle_window_s
    while now() < t_end:
        await asyncio.sleep(min(1.0, ctx.sizes.idle_window_s / 4))
        peak = max(peak, server.rss())
    figures = cpu.stop()
    n = fleet.size
    try:
        fds, fd_limit = server.ps.num_fds(), server.ps.rlimit(psutil.RLIMIT_NOFILE)[0]
    except (psutil.Error, AttributeError):
        fds = fd_limit = None
    failures = {k: v for k, v in connect.items() if k.startswith("failed: ")}
    note = "" if n >= tier else (f"{n} of {tier} sockets opened: {connect.get('failed', 0)} failed"
                                 f"{' (' + ', '.join(f'{k[8:]} ×{v}' for k, v in failures.items()) + ')' if failures else ''}, "
                                 f"{connect.get('not_attempted', 0)} not attempted within the run's time budget; "
                                 f"harness open-files limit {ctx.meta.get('open_files_limit')}, server's {fd_limit}")
    ctx.add("app.idle", f"{n} idle authenticated sockets", {"sockets": tier, "connected": n, "window_s": ctx.sizes.idle_window_s},
            {"connected": n, "server_rss_mb": round(peak / 2**20, 1), "rss_per_socket_kb": round((peak - rss0) / max(n, 1) / 1024, 1),
             "server_cpu_pct_core": figures["server_cpu_pct_core"], "machine_cpu_pct": figures["machine_cpu_pct"],
             "frames_per_s": round((fleet.frames - frames0) / cpu.wall, 1),
             "redis_rss_mb": round(ctx.procs["redis"].rss() / 2**20, 1), "connect_per_s": connect["rate"],
             "connect_failed": connect.get("failed", 0), "not_attempted": connect.get("not_attempted", 0),
             "server_fds": fds, "server_fd_limit": fd_limit, "closed_by_server": fleet.closed_by_server}, note=note)


async def tutorial_phase(ctx: Ctx) -> None:
    s, world = ctx.sizes, ctx.world
    env = {**ctx.env, "DJANGO_SETTINGS_MODULE": "bench.tutorial.settings"}
    proc, port = await asyncio.to_thread(start_daphne, "tutorial-daphne", "bench.tutorial.asgi:application", env, ctx.log_dir)
    fleet = Fleet(f"ws://127.0.0.1:{port}")
    try:
        # The same users as the app's sockets; the tutorial's consumer sends each only its own frames.
        await connect_users(ctx, fleet, world.socket_users(s.tutorial_sockets), "/ws/tutorial/{}/")
        targets = rep_targets(world, fleet)
        await ladder(ctx, kind="tutorial.webhook", label="tutorial pipeline webhook→socket", fleet=fleet, port=port,
                     targets=targets, rates=s.tutorial_rates, watch={"server": proc, "redis": ctx.procs["redis"]},
                     backlog=None, reserve=KEEP_AFTER_APP + 600, sockets=s.tutorial_sockets)
    finally:
        proc.stop()
        await fleet.close_all()


def rep_targets(world, fleet: Fleet) -> list[tuple[int, str]]:
    """(user id, wa_id) of every connected rep; their audience is what the fleet may also see."""
    wa_of = dict(zip(world.rep_users, world.wa_ids, strict=True))
    targets = [(uid, wa_of[uid]) for uid, _, _ in fleet.sockets if uid in wa_of]
    fleet.allowed.update((uid, world.audience(uid)) for uid, _ in targets)
    return targets


def _flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushall()


async def start_app(ctx: Ctx) -> tuple[Proc, int]:
    """The app on a fresh daphne and an emptied Redis (presence counters of a killed server would linger)."""
    if ctx.procs.get("app"):
        ctx.procs.pop("app").stop()
    await asyncio.to_thread(_flush_redis, ctx.redis_url)
    proc, port = await asyncio.to_thread(start_daphne, "app-daphne", "config.asgi:application", ctx.env, ctx.log_dir)
    if ctx.env.get("WEBHOOK_PROCESSING", "worker") == "worker":
        # Webhooks are processed by Celery workers, as `make run` and docker-compose run them.
        if ctx.procs.get("app-worker"):
            ctx.procs.pop("app-worker").stop()
        worker = start_celery("app-worker", ctx.env, ctx.log_dir, concurrency=2)
        await asyncio.to_thread(wait_celery, [worker])
        ctx.procs["app-worker"] = worker
    pool = HttpPool(port)
    await pool.request(http_request("GET", "/healthz", port))  # load the URLconf, open the pool
    pool.close()
    ctx.procs["app"] = proc
    return proc, port


async def _stop_app(ctx: Ctx, fleet: Fleet) -> None:
    # Server first: 5,000 graceful disconnects would each run presence code on the server.
    ctx.procs.pop("app").stop()
    if ctx.procs.get("app-worker"):
        ctx.procs.pop("app-worker").stop()
    await fleet.close_all()


async def app_phase(ctx: Ctx) -> None:
    """Per socket count, a fresh daphne: connect, measure idle, then the webhook ladder."""
    s, world = ctx.sizes, ctx.world
    for tier in sorted(set(s.webhook_sockets) | set(s.idle_sockets)):
        # Keep time for the services and the fan-out; connects run at ~50-100/s (one sync thread).
        need = KEEP_AFTER_APP + tier / 60 + 60 * (tier in s.idle_sockets) + 180 * (tier in s.webhook_sockets)
        if ctx.spare(need) < 0:
            for kind in ("app.idle",) * (tier in s.idle_sockets) + ("app.webhook",) * (tier in s.webhook_sockets):
                ctx.skip(kind, f"{tier} sockets", {"sockets": tier}, "skipped", "time budget of the run is used up")
            continue
        proc, port = await start_app(ctx)
        rss0 = proc.rss()
        fleet = Fleet(f"ws://127.0.0.1:{port}")
        watch = {"server": proc, "redis": ctx.procs["redis"], **({"worker": ctx.procs["app-worker"]} if "app-worker" in ctx.procs else {})}
        try:
            connect = await connect_users(ctx, fleet, world.socket_users(tier), within=max(30.0, ctx.spare(need - tier / 60)))
            print(f"  connected {fleet.size} sockets: {connect}", flush=True)
            if tier in s.idle_sockets:
                await idle_point(ctx, fleet, proc, rss0, connect, tier)
            if tier in s.webhook_sockets:
                targets = rep_targets(world, fleet)
                warm = HttpPool(port)
                await rate_step(ctx, fleet=fleet, pool=warm, port=port, targets=targets[:20], rate=20, seconds=s.warmup_s,
                                watch=watch, backlog=WebhookBacklog)
                warm.close()
                await ladder(ctx, kind="app.webhook", label="app webhook→socket", fleet=fleet, port=port, targets=targets,
                             rates=s.webhook_rates, watch=watch, backlog=WebhookBacklog, reserve=KEEP_AFTER_APP, sockets=tier)
        finally:
            await _stop_app(ctx, fleet)


async def fanout_phase(ctx: Ctx) -> None:
    """Managers of one team connected; (a) an inbound message on the team rep's conversation (the app
    emits it to every manager); (b) one group_send to the team group straight through the layer."""
    from channels.layers import get_channel_layer

    from core.realtime import team_group

    s, world = ctx.sizes, ctx.world
    params = {"sockets": s.fanout_sockets, "events": s.fanout_events}
    if ctx.spare(240) < 0:
        for how in ("webhook", "group_send"):
            ctx.skip(f"app.fanout.{how}", "team fan-out", params, "skipped", "time budget of the run is used up")
        return
    proc, port = await start_app(ctx)
    fleet = Fleet(f"ws://127.0.0.1:{port}")
    pool = HttpPool(port)
    try:
        connect = await connect_users(ctx, fleet, world.manager_users[:s.fanout_sockets], within=min(240, ctx.spare(200)))
        settle_s = await fleet.quiet(s.quiet_s, max(10.0, min(120.0, ctx.spare(150))))
        print(f"  connected {fleet.size} manager sockets: {connect}, settled in {settle_s} s", flush=True)
        presence, n = fleet.events["rep.presence"], fleet.size
        layer = get_channel_layer()
        for how in ("webhook", "group_send"):
            lasts, firsts, missing = [], [], 0
            for e in range(s.fanout_events):
                mk = marker(900 if how == "webhook" else 901, e)
                t_send = now()
                if how == "webhook":
                    await pool.request(whatsapp_webhook(wa=world.team_wa_id, text=f"bench {mk}", port=port,
                                                        message_id=f"wamid.{run_tag()}.{mk}", ts=int(time.time())))
                else:
                    frame = {"event": "message.created", "seq": None, "data": {"body": f"bench {mk}"}}
                    await layer.group_send(team_group(world.team_id), {"type": "inbox.event", "frame": frame})
                while len(fleet.every.get(mk, ())) < n and now() < t_send + 10:
                    await asyncio.sleep(0.005)
                got = fleet.every.get(mk, [])
                missing += n - len(got)
                if got:
                    lasts.append(max(got) - t_send)
                    firsts.append(min(got) - t_send)
                await asyncio.sleep(0.2)
            what = ("inbound message on a team rep's conversation (app emits to every manager)" if how == "webhook"
                    else "group_send to the team group (layer only)")
            ctx.add(f"app.fanout.{how}", f"{n}-socket team fan-out: {what}", {**params, "connected": n},
                    {**summary(lasts, "last_frame_"), **summary(firsts, "first_frame_"), "missing_frames": missing,
                     "connect_s": connect["seconds"], "connect_failed": connect.get("failed", 0),
                     "presence_frames_during_connect": presence, "settle_s": settle_s})
    finally:
        pool.close()
        await _stop_app(ctx, fleet)  # 1,000 graceful closes would each emit presence to every manager
