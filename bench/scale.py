"""Campaign-scale scenarios of issue #14, driven only from outside (signed webhooks over HTTP, sockets,
row counts): the status burst of a 10,000-message campaign, and one + one against two daphne + two
workers at saturation."""
from __future__ import annotations

import asyncio
import math
import signal
import time
from collections import Counter

from bench.config import Ctx
from bench.load import HttpPool, now, open_loop, pct, summary
from bench.procs import CpuWatch, Proc, start_celery, start_daphne, wait_celery
from bench.scenarios import WebhookBacklog, _flush_redis, _stop_app, connect_users, rep_targets, start_app
from bench.seed import run_tag, seed_sent_messages, whatsapp_status_webhook, whatsapp_webhook
from bench.sockets import Fleet, marker

KEEP_AFTER_STATUSES = 330  # scale-out (~1.5 min), services (~2.5 min), fan-out (~1.5 min)
KEEP_AFTER_SCALEOUT = 240
STATUSES = ("sent", "delivered", "read")


def _closing(fn, *args, **kwargs):
    from django.db import connection

    try:
        return fn(*args, **kwargs)
    finally:
        connection.close()


def _conversations(rep_users: list[int]) -> dict[int, int]:
    """Rep user id → id of that rep's bench WhatsApp conversation."""
    from inbox.models import Conversation

    return dict(Conversation.objects.filter(rep__user_id__in=rep_users, channel__routing_key="990001")
                .values_list("rep__user_id", "id"))


def _status_counts(first: int, last: int) -> dict[str, int]:
    from django.db.models import Count

    from inbox.models import Message

    rows = Message.objects.filter(id__range=(first, last)).values_list("status").annotate(n=Count("id"))
    return dict(rows.values_list("status", "n"))


def _read_count(first: int, last: int) -> int:
    from inbox.models import Message

    return Message.objects.filter(id__range=(first, last), status="read").count()


def _discard_unprocessed(after: int) -> int:
    """Stored webhooks of an abandoned step still waiting: removed so no later phase works them off."""
    from webhooks.models import WebhookEvent

    return WebhookEvent.objects.filter(id__gt=after, state="received").delete()[0]


async def _discard_backlog(ctx: Ctx, mark: int) -> None:
    """After the servers and workers stopped: no stored webhook and no queued task of this phase is
    left for a later phase's workers (the bench's own workers share the app's queue)."""
    if mark:
        await asyncio.to_thread(_closing, _discard_unprocessed, mark)
    await asyncio.to_thread(_flush_redis, ctx.redis_url)


async def statuses_phase(ctx: Ctx) -> None:
    """10,000 outbound messages seeded as `sent`; 30,000 signed status webhooks (sent, delivered, read
    of each, in that order: a campaign's statuses come in waves) open loop; then until every message
    is `read` in the database and its read tick reached its rep's socket, or the cap."""
    s, world = ctx.sizes, ctx.world
    count, rate = s.status_messages, s.status_rate
    params = {"messages": count, "webhooks": 3 * count, "rate_per_s": rate, "sockets": s.status_sockets}
    name = f"statuses of a {count:,}-message campaign: {3 * count:,} status webhooks at {rate}/s"
    if ctx.spare(KEEP_AFTER_STATUSES + 3 * count / rate + 60) < 0:
        ctx.skip("app.statuses", name, params, "skipped", "time budget of the run is used up")
        return
    proc, port = await start_app(ctx)
    fleet = Fleet(f"ws://127.0.0.1:{port}")
    watch = {"server": proc, "redis": ctx.procs["redis"], **({"worker": ctx.procs["app-worker"]} if "app-worker" in ctx.procs else {})}
    pool = HttpPool(port)
    mark = 0
    try:
        connect = await connect_users(ctx, fleet, world.socket_users(s.status_sockets), within=max(20.0, ctx.spare(KEEP_AFTER_STATUSES + 120)))
        targets = rep_targets(world, fleet)
        conv_of = await asyncio.to_thread(_closing, _conversations, [uid for uid, _ in targets])
        owners = [(uid, wa) for uid, wa in targets if uid in conv_of]
        t_seed = now()
        first, last, prefix = await asyncio.to_thread(_closing, seed_sent_messages,
                                                      conversations=[(conv_of[u], w) for u, w in owners], count=count, tag=run_tag())
        seed_s = now() - t_seed
        fleet.track = {first + i: owners[i % len(owners)][0] for i in range(count)}
        ts = int(time.time())
        reqs = [whatsapp_status_webhook(external_id=f"{prefix}{i}", status=st, recipient=owners[i % len(owners)][1],
                                        ts=ts + k, port=port) for k, st in enumerate(STATUSES) for i in range(count)]
        await fleet.quiet(s.quiet_s, 20)
        await pool.warm(64)
        mark = await asyncio.to_thread(WebhookBacklog.mark)
        answers: Counter = Counter()
        http_lat: list[float] = []
        last_sent = [0.0]

        async def fire(i: int) -> None:
            status, t0, t1 = await pool.request(reqs[i], on_send=lambda t: last_sent.__setitem__(0, max(last_sent[0], t)))
            answers[status] += 1
            if status == 200:
                http_lat.append(t1 - t0)

        cpu = CpuWatch(watch).start()
        run = await open_loop(rate, len(reqs), fire)
        burst_sent = now()
        cap = min(s.status_cap_s, max(10.0, ctx.spare(KEEP_AFTER_STATUSES)))
        drain_s, last_reads, last_change = None, 0, burst_sent
        while now() - burst_sent < cap:
            await asyncio.sleep(0.5)
            reads = fleet.tick_counts["read"]
            if reads != last_reads:
                last_reads, last_change = reads, now()
            if drain_s is None and await asyncio.to_thread(_closing, _read_count, first, last) >= count:
                drain_s = now() - burst_sent
            if reads >= count or (drain_s is not None and now() - last_change > 5):
                break  # every tick is in, or every message is read and no tick came for 5 s
        cpu_figures = cpu.stop()
        for t in run["tasks"]:
            t.cancel()
        burst_end = max(last_sent[0], run["t0"])
        counts = await asyncio.to_thread(_closing, _status_counts, first, last)
        delays = sorted(max(0.0, t - burst_end) for (_, st), t in fleet.ticks.items() if st == "read")
        with_missing = delays + [math.inf] * (count - len(delays))
        p99_all = pct(with_missing, 99)
        span = max(last_sent[0] - run["t0"], 1e-6)
        figures = {
            "messages": count, "webhooks": len(reqs), "sent_per_s": round((len(reqs) - 1) / span, 1),
            "http_ok": answers[200], "http_failed": len(reqs) - answers[200], **summary(http_lat, "http_"),
            "generator_lag_p99_ms": summary(run["lags"])["p99_ms"], "generator_stalls": pool.stalls,
            "applied_read": counts.get("read", 0), "applied_delivered": counts.get("delivered", 0),
            "still_sent": counts.get("sent", 0), "drain_s": None if drain_s is None else round(drain_s, 2),
            "read_ticks_on_rep_socket": fleet.tick_counts["read"], "delivered_ticks_on_rep_socket": fleet.tick_counts["delivered"],
            "read_ticks_missing": count - len(delays),
            "tick_after_end_p99_of_all_ms": None if math.isinf(p99_all) else round(p99_all * 1000, 1),
            **summary(delays, "tick_after_end_"), "audience_tick_frames": fleet.tick_audience,
            "connected": fleet.size, "connect_failed": connect.get("failed", 0), "seed_s": round(seed_s, 2),
            "waited_after_burst_s": round(now() - burst_sent, 1), **cpu_figures,
            **{k.replace("per_event", "per_status_webhook"): v for k, v in cpu.per_event(len(reqs)).items()},
        }
        notes = [] if counts.get("read", 0) >= count else [
            f"{count - counts.get('read', 0)} messages not read in the database {cap:.0f} s after the burst (cap)"]
        if figures["sent_per_s"] < 0.9 * rate:
            notes.append(f"the generator sent {figures['sent_per_s']}/s, not {rate}/s: answers took p50 "
                         f"{figures['http_p50_ms']} ms and {pool.stalls} requests waited for one of the "
                         f"{pool.max_conns} connections")
        note = "; ".join(notes)
        ctx.add("app.statuses", name, {**params, "connected": fleet.size, "reps": len(owners)}, figures, note=note)
    finally:
        pool.close()
        await _stop_app(ctx, fleet)
        await _discard_backlog(ctx, mark)


async def _start_stack(ctx: Ctx, n: int) -> tuple[list[Proc], list[int], list[Proc]]:
    """n daphne processes and n Celery workers (-c 2 each, as `make run` starts one) on an emptied Redis."""
    for key in [k for k in ctx.procs if k.startswith(("app", "scale-"))]:
        ctx.procs.pop(key).stop()
    await asyncio.to_thread(_flush_redis, ctx.redis_url)
    workers = [start_celery(f"scale-worker-{n}x{i}", ctx.env, ctx.log_dir, concurrency=2) for i in range(1, n + 1)]
    ctx.procs.update((w.name, w) for w in workers)
    started = await asyncio.gather(*(asyncio.to_thread(start_daphne, f"scale-daphne-{n}x{i}", "config.asgi:application",
                                                       ctx.env, ctx.log_dir) for i in range(1, n + 1)))
    ctx.procs.update((proc.name, proc) for proc, _ in started)
    await asyncio.to_thread(wait_celery, workers)
    return [proc for proc, _ in started], [port for _, port in started], workers


async def _saturate(ctx: Ctx, n: int) -> dict:
    """Sockets split over the n servers, webhooks alternating between them at the offered rate; the
    throughput is frames that reached their rep's socket per second inside the steady window (after
    warm-up, until the last send). The backlog left is thrown away, not waited for."""
    s, world = ctx.sizes, ctx.world
    servers, ports, workers = await _start_stack(ctx, n)
    fleets = [Fleet(f"ws://127.0.0.1:{p}") for p in ports]
    pools = [HttpPool(p) for p in ports]
    users = world.socket_users(s.scaleout_sockets)
    mark = await asyncio.to_thread(WebhookBacklog.mark)
    try:
        for i, fleet in enumerate(fleets):
            await connect_users(ctx, fleet, users[i::n], within=60)
        targets = [(f, t) for f in fleets for t in rep_targets(world, f)]
        for f in fleets:  # a rep's managers and the admin may sit on the other server
            f.allowed.update((uid, world.audience(uid)) for _, (uid, _) in targets)
        for f in fleets:
            await f.quiet(s.quiet_s, 20)
        for pool in pools:
            await pool.warm(32)
        step, tag, ts = 950 + n, run_tag(), int(time.time())
        count = int(s.scaleout_rate * s.scaleout_s)
        reqs = []
        for i in range(count):
            fleet, (uid, wa) = targets[i % len(targets)]
            mk = marker(step, i)
            for f in fleets:
                f.expect[mk] = uid
            k = i % n
            reqs.append((k, whatsapp_webhook(wa=wa, text=f"bench {mk}", message_id=f"wamid.{tag}.{mk}", ts=ts, port=ports[k])))
        answers: Counter = Counter()

        async def fire(i: int) -> None:
            k, raw = reqs[i]
            status, _, _ = await pools[k].request(raw)
            answers[status] += 1

        cpu = CpuWatch({**{p.name: p for p in servers}, **{w.name: w for w in workers}}).start()
        run = await open_loop(s.scaleout_rate, count, fire)
        t_last = now()
        await asyncio.sleep(s.scaleout_grace_s)
        cpu_figures = cpu.stop()
        for t in run["tasks"]:
            t.cancel()
        lo, hi = run["t0"] + s.scaleout_warm_s, t_last
        arrivals = [t for f in fleets for t, _ in f.first.values()]
        in_window = sum(1 for t in arrivals if lo <= t <= hi)
        servers_cpu = sum(v for k, v in cpu.seconds.items() if k.startswith("scale-daphne"))
        workers_cpu = sum(v for k, v in cpu.seconds.items() if k.startswith("scale-worker"))
        return {"delivered_per_s": round(in_window / max(hi - lo, 1e-6), 1), "offered_per_s": s.scaleout_rate,
                "sent_per_s": round((count - 1) / max(t_last - run["t0"], 1e-6), 1), "events": count,
                "delivered_by_grace_end": len(arrivals), "http_ok": answers[200],
                "misrouted": sum(f.misrouted for f in fleets), "connected": sum(f.size for f in fleets),
                "machine_cpu_pct": cpu_figures["machine_cpu_pct"],
                "servers_cpu_pct_core": round(100 * servers_cpu / cpu.wall, 1),
                "workers_cpu_pct_core": round(100 * workers_cpu / cpu.wall, 1),
                "postgres_cpu_pct_core": cpu_figures["postgres_cpu_pct_core"],
                "harness_cpu_pct_core": cpu_figures["harness_cpu_pct_core"]}
    finally:
        for pool in pools:
            pool.close()
        for proc in servers + workers:  # servers first: thousands of graceful closes would each run presence code
            ctx.procs.pop(proc.name, None)
            if proc in workers and proc.alive():
                proc.popen.send_signal(signal.SIGQUIT)  # cold shutdown: the backlog is thrown away anyway
            else:
                proc.terminate()
        await asyncio.gather(*(asyncio.to_thread(proc.stop) for proc in servers + workers))
        for fleet in fleets:
            await fleet.close_all()
        await _discard_backlog(ctx, mark)


async def scaleout_phase(ctx: Ctx) -> None:
    s = ctx.sizes
    for n in (1, 2):
        params = {"daphne": n, "workers": n, "worker_concurrency": 2, "sockets": s.scaleout_sockets,
                  "offered_per_s": s.scaleout_rate, "seconds": s.scaleout_s}
        name = f"{n} daphne + {n} worker{'s' if n > 1 else ''}: webhook→socket at saturation"
        if ctx.spare(KEEP_AFTER_SCALEOUT + (2 - n + 1) * (s.scaleout_s + 30)) < 0:
            ctx.skip(f"app.scaleout.{n}x", name, params, "skipped", "time budget of the run is used up")
            continue
        ctx.add(f"app.scaleout.{n}x", name, params, await _saturate(ctx, n))

