"""`make bench`: baselines and Switchboard's scenarios on this machine → bench/RESULTS.md, bench/results.json.

    python -m bench.run             full sizes (< 25 min), writes bench/RESULTS.md and bench/results.json
    python -m bench.run --smoke     tiny sizes (< 90 s), writes bench/out/smoke/ unless --out is given
    python -m bench.run --only baselines,app   run some phases only
    python -m bench.run --only statuses --size status_messages=1000 --out /tmp/b   one phase, smaller

Phases: baselines (ASGI hello, Redis, layers, PostgreSQL, Celery), tutorial (the tutorial-style
pipeline's ladder), app (webhook ladder with 1,000 sockets of reps, their managers and the admin;
10,000 idle sockets), statuses (30,000 status webhooks of a 10,000-message campaign), scaleout
(1 daphne + 1 worker vs 2 + 2 at saturation), services (sandbox dispatch, dispatch to a loopback
WhatsApp Cloud API, a paced campaign checked against the ledger, campaign expansion, conversation
list), fanout (one event to 1,000 managers).

A run of some phases only (--only) into a directory that already holds a results.json of the same
kind (full or smoke) keeps that file's rows of the phases it did not run, each marked with the date
of the run that measured it, so RESULTS.md keeps showing every row; --no-merge writes only this
run's rows.
"""
from __future__ import annotations

import argparse
import ast
import asyncio
import os
import sys
import time
import traceback
import warnings
from datetime import UTC, datetime
from pathlib import Path

from bench.config import FULL, SMOKE, Ctx
from bench.procs import ROOT, server_env, start_celery, start_redis, wait_celery
from bench.sockets import raise_open_files

# Fan-out last: its cost is the least predictable.
PHASES = ("baselines", "tutorial", "app", "statuses", "scaleout", "services", "fanout")
# The steps of the services phase (--services picks some); celery-noop runs with dispatch when the
# baselines did not measure it, since dispatch's ratio is to a no-op of the same run.
SERVICE_STEPS = ("dispatch", "loopback", "paced-campaign", "campaign", "convlist")


def parse(argv):
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="tiny sizes: finishes in under a minute")
    p.add_argument("--out", help="directory for results.json and RESULTS.md (default: bench/, or bench/out/smoke with --smoke)")
    p.add_argument("--only", default=",".join(PHASES), help=f"comma-separated phases among {', '.join(PHASES)}")
    p.add_argument("--sockets", help="socket counts of the app phase, e.g. 1000 (default: the full ladder)")
    p.add_argument("--services", default=",".join(SERVICE_STEPS),
                   help=f"comma-separated steps of the services phase among {', '.join(SERVICE_STEPS)}")
    p.add_argument("--no-merge", action="store_true",
                   help="with --only: write this run's rows only, not merged with the rows of earlier runs in results.json")
    p.add_argument("--size", action="append", default=[], metavar="FIELD=VALUE",
                   help="override one size of bench/config.py, e.g. --size idle_sockets='(2000,)' --size status_messages=1000")
    args = p.parse_args(argv)
    fields = set(FULL.__dataclass_fields__)
    sizes = {}
    for item in args.size:
        key, _, value = item.partition("=")
        if key not in fields:
            p.error(f"--size {item!r}: no size {key!r} in bench/config.py")
        try:
            sizes[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            p.error(f"--size {item!r}: the value must be a Python literal")
    args.size = sizes
    if args.sockets:
        try:
            args.sockets = tuple(int(n) for n in args.sockets.split(","))
        except ValueError:
            p.error(f"--sockets {args.sockets!r}: comma-separated whole numbers expected")
    unknown = set(args.only.split(",")) - set(PHASES)
    if unknown:
        p.error(f"unknown phase(s) {', '.join(sorted(unknown))}")
    steps = args.services.split(",")
    unknown = set(steps) - set(SERVICE_STEPS)
    if unknown:
        p.error(f"unknown services step(s) {', '.join(sorted(unknown))}")
    args.services = tuple(x for x in SERVICE_STEPS if x in steps)
    return args


def setup(ctx: Ctx) -> None:
    """Bench database on the embedded PostgreSQL, a private Redis, Django on them, schema, people."""
    from core import embedded

    base = os.environ.get("DATABASE_URL") or embedded.ensure_postgres()
    from bench.seed import database_url

    ctx.database_url = database_url(base, "switchboard_bench_smoke" if ctx.smoke else "switchboard_bench")
    redis_proc, ctx.redis_url = start_redis(ctx.log_dir / "redis-data", ctx.log_dir)
    ctx.procs["redis"] = redis_proc
    os.environ.pop("SWITCHBOARD_TESTING", None)
    os.environ.update(DATABASE_URL=ctx.database_url, REDIS_URL=ctx.redis_url, DJANGO_SETTINGS_MODULE="config.settings",
                      LOG_DIR=str(ctx.log_dir / "harness"))
    ctx.env = server_env(database_url=ctx.database_url, redis_url=ctx.redis_url, log_dir=ctx.log_dir)
    import django

    django.setup()
    from bench.seed import prepare_schema, seed_people

    ctx.meta.update(prepare_schema(ctx.database_url))
    from bench.sends import PACING_OFF

    worker_env = {**ctx.env, **PACING_OFF}  # the paced campaign starts its own workers
    for name in ("celery1", "celery2"):  # started now, ready by the time the baselines reach them
        ctx.procs[name] = start_celery(name, worker_env, ctx.log_dir)
    t0 = time.monotonic()
    ctx.world = seed_people(reps=ctx.sizes.reps, managers=ctx.sizes.fanout_sockets, team_size=ctx.sizes.team_size,
                            team_managers=ctx.sizes.team_managers)
    from django.db import connection

    connection.close()
    ctx.meta["seed_people_s"] = round(time.monotonic() - t0, 2)
    if not ctx.smoke:  # no worker boot in the middle of the first baselines
        wait_celery([p for n, p in ctx.procs.items() if n.startswith("celery")])


async def phase(ctx: Ctx, name: str, fn, *args) -> None:
    print(f"== {name} ({ctx.left():.0f} s of budget left)", flush=True)
    t0 = time.monotonic()
    try:
        await fn(*args)
    except Exception as exc:
        traceback.print_exc()
        ctx.add(f"error.{name}", f"{name} failed", {}, {}, status="error", note=f"{type(exc).__name__}: {exc}")
    ctx.meta.setdefault("phase_seconds", {})[name] = round(time.monotonic() - t0, 1)


async def baselines(ctx: Ctx) -> None:
    from bench import baselines as b

    for server in ("daphne", "uvicorn"):
        await phase(ctx, f"hello-{server}", b.hello, ctx, server)
    await phase(ctx, "redis", b.redis_roundtrip, ctx)
    for kind in ("core", "pubsub"):
        await phase(ctx, f"layer-{kind}", b.layer_roundtrip, ctx, kind)
    for conns in (1, 4):
        await phase(ctx, f"pg-insert-{conns}", _sync, b.pg_inserts, ctx, conns)
    await asyncio.to_thread(wait_celery, [p for n, p in ctx.procs.items() if n.startswith("celery")])
    await phase(ctx, "celery-noop", b.celery_noop, ctx)


async def _sync(fn, *args):
    return fn(*args)


async def services(ctx: Ctx, steps: tuple[str, ...] = SERVICE_STEPS) -> None:
    from bench import appservices as a
    from bench import baselines as b
    from bench import sends

    async def step(name, fn, *args):
        if name in steps or (name == "celery-noop" and "dispatch" in steps):
            await phase(ctx, name, fn, *args)
            for row in ctx.rows:  # a partial run of the services keeps the other steps' earlier rows
                row.setdefault("phase", f"services/{name}")

    workers = _bench_workers(ctx, running=True)
    await asyncio.to_thread(wait_celery, workers)
    if not any(r["kind"] == "baseline.celery_noop" and r["status"] == "ok" for r in ctx.rows):
        await step("celery-noop", b.celery_noop, ctx)  # dispatch's ratio is to a no-op of the same run
    await step("dispatch", sends.dispatch, ctx)
    await step("loopback", sends.loopback, ctx)
    await step("paced-campaign", sends.paced_campaign, ctx)  # stops the pacing-off workers, runs its own
    for worker in workers:  # nothing may dispatch (campaign messages) while the next ones are measured
        worker.terminate()
    await step("campaign", a.campaign, ctx)
    await step("convlist", a.conversation_list, ctx)


def _bench_workers(ctx: Ctx, *, running: bool) -> list:
    """The baselines' and services' workers (bench.celery_app, same queue as the app's tasks): stopped
    while the app's own worker(s) are measured, so those do all the app's work, restarted for the services."""
    workers = [p for n, p in ctx.procs.items() if n.startswith("celery")]
    for w in workers:
        if running and not w.alive():
            w.start()
        elif not running:
            w.stop()
    return workers


async def run_phases(ctx: Ctx, only: set[str], service_steps: tuple[str, ...] = SERVICE_STEPS) -> None:
    from bench import scale
    from bench import scenarios as s

    steps = {"baselines": (baselines, ctx), "tutorial": (s.tutorial_phase, ctx), "app": (s.app_phase, ctx),
             "statuses": (scale.statuses_phase, ctx), "scaleout": (scale.scaleout_phase, ctx),
             "fanout": (s.fanout_phase, ctx), "services": (services, ctx, service_steps)}
    for name in PHASES:
        if name in only:
            if name not in ("baselines", "services", "tutorial"):
                await asyncio.to_thread(_bench_workers, ctx, running=False)
            await phase(ctx, name, *steps[name])
            for row in ctx.rows:
                row.setdefault("phase", name)


def server_versions(ctx: Ctx) -> dict:
    import psycopg
    import redis

    from bench.seed import _admin_conninfo

    out = {}
    try:
        with psycopg.connect(**_admin_conninfo(ctx.database_url)) as conn:
            out["PostgreSQL"] = conn.execute("SHOW server_version").fetchone()[0]
        out["Redis server"] = redis.Redis.from_url(ctx.redis_url).info("server")["redis_version"]
    except (psycopg.Error, redis.RedisError) as exc:
        print(f"bench: server versions unknown: {exc}", flush=True)
    return out


def main(argv=None) -> int:
    args = parse(argv)
    warnings.filterwarnings("ignore", message="No directory at")  # static files are not collected for the bench
    smoke = args.smoke
    out = Path(args.out) if args.out else ROOT / "bench" / ("out/smoke" if smoke else "")
    log_dir = (out / "logs") if args.out else ROOT / "bench" / "out" / ("logs-smoke" if smoke else "logs")
    sizes = SMOKE if smoke else FULL
    if getattr(args, "sockets", None):
        from dataclasses import replace

        sizes = replace(sizes, webhook_sockets=args.sockets, idle_sockets=args.sockets)
    if args.size:
        from dataclasses import replace

        sizes = replace(sizes, **args.size)
        print(f"bench: sizes changed: {args.size}", flush=True)
    ctx = Ctx(sizes=sizes, smoke=smoke, out=out, log_dir=log_dir)
    ctx.meta["open_files_limit"] = raise_open_files()
    started = datetime.now(UTC)
    print(f"bench: {'smoke' if smoke else 'full'} run, results to {out}, logs in {log_dir}", flush=True)
    extra = {}
    try:
        setup(ctx)
        asyncio.run(run_phases(ctx, set(args.only.split(",")), args.services))
    except Exception as exc:
        traceback.print_exc()
        ctx.add("error.setup", "run failed", {}, {}, status="error", note=f"{type(exc).__name__}: {exc}")
    finally:
        if ctx.redis_url:
            extra = server_versions(ctx)
        for proc in reversed(list(ctx.procs.values())):
            proc.stop()
    from bench import report

    data = {
        "date": started.isoformat(timespec="seconds"), "smoke": smoke, "argv": list(sys.argv[1:] if argv is None else argv),
        "duration_s": round(time.monotonic() - ctx.started, 1), "machine": report.machine(),
        "versions": report.versions(extra),
        "setup": {"database": ctx.database_url.rsplit("/", 1)[-1], "redis": "private redis-server for this run",
                  "sizes": ctx.sizes.__dict__, **ctx.meta},
        "rows": ctx.rows, "targets": report.targets(ctx.rows, smoke),
    }
    ran = set(args.only.split(","))
    if "services" in ran and args.services != SERVICE_STEPS:  # some steps only: the others' rows are kept
        ran = (ran - {"services"}) | {f"services/{x}" for x in args.services}
        if "dispatch" in args.services:
            ran.add("services/celery-noop")
    if ran != set(PHASES) and not args.no_merge:
        data = report.merge_earlier(data, out / "results.json", ran, PHASES)
    report.write(out, data)
    errors = [r for r in ctx.rows if r["status"] == "error"]
    print(f"bench: wrote {out / 'RESULTS.md'} and {out / 'results.json'} in {data['duration_s']:.0f} s"
          f"{f'; {len(errors)} error row(s)' if errors else ''}", flush=True)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
