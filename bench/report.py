"""results.json and RESULTS.md: every figure, the machine, the versions, and the issue's targets."""
from __future__ import annotations

import json
import math
import platform
from importlib import metadata
from pathlib import Path

import psutil

# Every kind of row a run produces (the smoke test checks each is there).
EXPECTED_KINDS = (
    "baseline.hello.daphne", "baseline.hello.uvicorn", "baseline.redis_pubsub", "baseline.layer.core",
    "baseline.layer.pubsub", "baseline.pg_insert.c1", "baseline.pg_insert.c4", "baseline.celery_noop",
    "tutorial.webhook", "app.webhook", "app.idle", "app.fanout.webhook", "app.fanout.group_send",
    "app.dispatch", "app.campaign", "app.convlist",
)
PACKAGES = ("Django", "channels", "channels-redis", "daphne", "Twisted", "redis", "celery", "kombu", "psycopg",
            "psycopg-pool", "asgiref", "websockets", "uvicorn", "uvloop", "httptools", "psutil")

# What the code stood on when these benchmarks were written (read from the source, confirmed by the
# figures where a row shows it); printed next to a missed target.
OBSTACLES = {
    "latency": "processing, not the HTTP path: each inbound message costs ~19 ORM statements and ~13 ms of Python "
               "CPU (contact, conversation lock, message, two stored events, campaign hook), so one process "
               "delivers ~40-45 events/s and every faster arrival queues; with WEBHOOK_PROCESSING=server those "
               "threads also starve the event loop of the GIL, which is why the answers themselves wait seconds",
    "throughput": "the same per-event processing cost: 2 cores give ~100-150 processed events/s at best with the "
                  "ORM; 1,000/s needs set-based processing of batches of events (one INSERT per table per batch)",
    "idle": "one heartbeat frame per socket every WS_HEARTBEAT_SECONDS, daphne's ping every 20 s, and the "
            "3-second revocation check (one query for every open socket of the process)",
    "fanout": "emit() writes one UserEvent and takes one EventCursor row lock per recipient and publishes one "
              "group_send per user; in the run above connecting N managers also stored rep.presence for all N "
              "(O(N²)), since changed to one unstored broadcast to the team group",
    "dispatch": "each sandboxed send runs every rule with the ORM: ~25 statements in two transactions (schedule "
                "and shifts read, ledger counted, rate-limit windows counted, attempt rows, one event per message)",
}


# Decisions taken on measurements of this session (2-core machine above, same harness); kept here
# so every regenerated RESULTS.md carries them.
DECISIONS = Path(__file__).with_name("DECISIONS.md")


def _le(v, limit) -> bool:
    return v is not None and v <= limit


def _n(v) -> str:
    return "—" if v is None else (f"{v:,.1f}" if isinstance(v, float) else str(v))


def _ok(rows, kind):
    return [r for r in rows if r["kind"] == kind and r["status"] == "ok"]


def _pick(rows, kind, smoke, **want):
    """The row with exactly these params; in a smoke run the closest one (largest sockets, nearest rate)."""
    found = [r for r in _ok(rows, kind) if all(r["params"].get(k) == v for k, v in want.items())]
    if found or not smoke:
        return found[0] if found else None
    candidates = _ok(rows, kind)
    if not candidates:
        return None
    return max(candidates, key=lambda r: (r["params"].get("sockets", 0), -abs(r["params"].get("rate_per_s", 0) - want.get("rate_per_s", 0))))


def _qualifies(row) -> bool:
    f = row["figures"]
    return f.get("lost") == 0 and f.get("p99_ms") is not None and f["p99_ms"] < 100


def highest_rate(rows, kind, sockets=None):
    good = [r for r in _ok(rows, kind) if _qualifies(r) and (sockets is None or r["params"]["sockets"] == sockets)]
    return max((r["params"]["rate_per_s"] for r in good), default=None)


def _why(row, key: str) -> str:
    if row is None:
        return "not measured in this run"
    f = row["figures"]
    parts = []
    cpu = [f"{label} {f[key]}%" for key, label in (("server_cpu_pct_core", "server"), ("postgres_cpu_pct_core", "PostgreSQL"),
                                                    ("celery1_cpu_pct_core", "worker 1"), ("celery2_cpu_pct_core", "worker 2"),
                                                    ("harness_cpu_pct_core", "load generator")) if key in f]
    if "machine_cpu_pct" in f:
        parts.append(f"machine CPU {f['machine_cpu_pct']}% ({', '.join(cpu)} of a core)")
    if f.get("lost"):
        parts.append(f"{f['lost']} of {f.get('events')} frames never arrived" + ("" if f.get("settle_s") is not None
                     else " (the server had not worked off the step when the harness gave up)"))
    if f.get("http_p99_ms") is not None and "p99_ms" in f:
        parts.append(f"webhook answered p99 {f['http_p99_ms']} ms")
    if OBSTACLES.get(key):
        parts.append(OBSTACLES[key])
    return "; ".join(parts)


def targets(rows: list[dict], smoke: bool) -> list[dict]:
    out = []

    def add(target, measured, met, blocker):
        out.append({"target": target, "measured": measured, "met": met, "blocker": "" if met else blocker})

    r = _pick(rows, "app.webhook", smoke, sockets=5000, rate_per_s=500)
    f = r["figures"] if r else {}
    add("p50 ≤ 5 ms and p99 ≤ 25 ms at 500/s with 5,000 sockets",
        f"p50 {_n(f.get('p50_ms'))} ms, p99 {_n(f.get('p99_ms'))} ms, lost {_n(f.get('lost'))}" + _at(r),
        f.get("lost") == 0 and _le(f.get("p50_ms"), 5) and _le(f.get("p99_ms"), 25), _why(r, "latency"))
    best = {s: highest_rate(rows, "app.webhook", s) for s in sorted({x["params"]["sockets"] for x in _ok(rows, "app.webhook")})}
    top = max((v for v in best.values() if v), default=None)
    worst = max(_ok(rows, "app.webhook"), key=lambda x: x["params"]["rate_per_s"], default=None)
    add("≥ 1,000 events/s with p99 < 100 ms (no frame lost)",
        "; ".join(f"{s} sockets: {v or 'none'}/s" for s, v in best.items()) or "not measured",
        top is not None and top >= 1000, _why(worst, "throughput"))
    tut = highest_rate(rows, "tutorial.webhook")
    tut_sockets = next((x["params"]["sockets"] for x in _ok(rows, "tutorial.webhook")), None)
    app_same = highest_rate(rows, "app.webhook", tut_sockets) if tut_sockets else None
    ratio = (app_same / tut) if app_same and tut else None
    peak_app = max((x["figures"].get("delivered_per_s") or 0 for x in _ok(rows, "app.webhook")
                    if x["params"]["sockets"] == tut_sockets), default=0)
    peak_tut = max((x["figures"].get("delivered_per_s") or 0 for x in _ok(rows, "tutorial.webhook")), default=0)
    add("≥ 10× the tutorial pipeline (highest rate with p99 < 100 ms, same sockets)",
        f"app {app_same or 'none'}/s vs tutorial {tut or 'none'}/s" + (f" = {ratio:.1f}×" if ratio else "")
        + f"; peak delivered: app {_n(peak_app)}/s vs tutorial {_n(peak_tut)}/s"
        + (f" ({peak_app / peak_tut:.2f}×)" if peak_tut else ""),
        ratio is not None and ratio >= 10,
        "the ladder's top rate bounds the ratio" if ratio else "no qualifying rate on one side")
    r = _pick(rows, "app.idle", smoke, sockets=10000)
    f = r["figures"] if r else {}
    add("10,000 idle sockets ≤ 1.5 GB and ≤ 5 % CPU",
        f"{_n(f.get('server_rss_mb'))} MB, {_n(f.get('server_cpu_pct_core'))} % of a core" + _at(r),
        _le(f.get("server_rss_mb"), 1536) and _le(f.get("server_cpu_pct_core"), 5), _why(r, "idle"))
    r = _pick(rows, "app.fanout.webhook", smoke)
    f = r["figures"] if r else {}
    add("team group fan-out: last frame ≤ 150 ms (every event)",
        f"last frame p50 {_n(f.get('last_frame_p50_ms'))} ms, max {_n(f.get('last_frame_max_ms'))} ms, "
        f"missing {_n(f.get('missing_frames'))}" + _at(r),
        f.get("missing_frames") == 0 and _le(f.get("last_frame_max_ms"), 150), _why(r, "fanout"))
    r = _pick(rows, "app.dispatch", smoke)
    f = r["figures"] if r else {}
    add("sandbox dispatch ≥ 1,000 sends/s, 2 workers, 1,000 rep-channels, 0 capacity violations, ≥ 0.5× bare Celery",
        f"{_n(f.get('sends_per_s'))} sends/s, {_n(f.get('capacity_violations'))} violations, "
        f"{f.get('vs_celery_noop')}× Celery" + _at(r),
        (f.get("sends_per_s") or 0) >= 1000 and f.get("capacity_violations") == 0 and (f.get("vs_celery_noop") or 0) >= 0.5,
        _unavailable(rows, "app.dispatch") or _why(r, "dispatch"))
    r = _pick(rows, "app.campaign", smoke)
    f = r["figures"] if r else {}
    add("100,000-contact campaign expansion ≤ 10 s", f"{_n(f.get('seconds'))} s" + _at(r),
        _le(f.get("seconds"), 10), _unavailable(rows, "app.campaign") or _why(r, "campaign"))
    r = _pick(rows, "app.convlist", smoke)
    f = r["figures"] if r else {}
    add("conversation list p95 ≤ 20 ms with a constant query count",
        f"p95 {_n(f.get('p95_ms'))} ms, queries {_n(f.get('queries_big_rep'))} (big rep) vs "
        f"{_n(f.get('queries_small_rep'))} (small)" + _at(r),
        _le(f.get("p95_ms"), 20) and f.get("queries_big_rep") is not None and f.get("queries_big_rep") == f.get("queries_small_rep"),
        _unavailable(rows, "app.convlist") or _why(r, "convlist"))
    return out


def _at(row) -> str:
    if not row:
        return " (not measured)"
    p = row["params"]
    bits = [f"{k}={v}" for k, v in p.items() if k in ("sockets", "rate_per_s", "contacts", "rep_channels", "conversations")]
    return f" [{', '.join(bits)}]" if bits else ""


def _unavailable(rows, kind) -> str:
    return next((r["note"] for r in rows if r["kind"] == kind and r["status"] != "ok"), "")


def machine() -> dict:
    model = ""
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": model or platform.processor(), "logical_cores": psutil.cpu_count(),
            "physical_cores": psutil.cpu_count(logical=False), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "os": f"{platform.system()} {platform.release()}", "python": platform.python_version()}


def versions(extra: dict) -> dict:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return {**out, **extra}


def write(out: Path, data: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(data, indent=1, default=str) + "\n")
    (out / "RESULTS.md").write_text(markdown(data))


def _fmt(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if math.isnan(v):
            return "—"
        return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, dict):
        return ", ".join(f"{k}={_fmt(x)}" for k, x in v.items())
    return str(v).replace("|", "/")


def _table(rows: list[dict], columns: list[str] | None = None) -> str:
    if not rows:
        return "_no rows_\n"
    if columns is None:
        columns = []
        for r in rows:
            columns += [k for k, v in r["figures"].items() if k not in columns and not isinstance(v, dict | list)]
    lines = ["| " + " | ".join(["scenario", "status", *columns]) + " |", "|" + "---|" * (2 + len(columns))]
    for r in rows:
        status = r["status"] + (f": {r['note']}" if r["note"] else "")
        lines.append("| " + " | ".join([r["name"], _fmt(status), *(_fmt(r["figures"].get(c)) for c in columns)]) + " |")
    return "\n".join(lines) + "\n"


WEBHOOK_COLUMNS = ["events", "sent_per_s", "delivered_per_s", "p50_ms", "p95_ms", "p99_ms", "max_ms", "lost", "misrouted",
                   "http_p50_ms", "http_p99_ms", "http_failed", "generator_lag_p99_ms", "generator_stalls", "machine_cpu_pct",
                   "server_cpu_pct_core", "postgres_cpu_pct_core", "redis_cpu_pct_core", "harness_cpu_pct_core", "settle_s"]

SECTIONS = [
    ("Baseline: bare ASGI hello (closed loop, keep-alive)", "baseline.hello", None),
    ("Baseline: round trips through Redis and the channel layers (one at a time)", ("baseline.redis", "baseline.layer"), None),
    ("Baseline: PostgreSQL one-row INSERTs, one transaction each", "baseline.pg_insert", None),
    ("Baseline: Celery no-op tasks", "baseline.celery", None),
    ("Tutorial-style pipeline: signed webhook → rep's socket (open loop)", "tutorial.webhook", WEBHOOK_COLUMNS),
    ("Switchboard: signed webhook → rep's socket (open loop)", "app.webhook", WEBHOOK_COLUMNS),
    ("Idle authenticated sockets", "app.idle", None),
    ("One event to a team of managers", "app.fanout", None),
    ("Sandbox dispatch", "app.dispatch", None),
    ("Campaign expansion", "app.campaign", None),
    ("Conversation list", "app.convlist", None),
    ("Errors", "error.", None),
]


def markdown(d: dict) -> str:
    m, v = d["machine"], d["versions"]
    text = [f"# Switchboard benchmark results{' (SMOKE SIZES: not comparable to the targets)' if d['smoke'] else ''}\n\n",
            f"Generated by `make bench` (`python -m bench.run{' --smoke' if d['smoke'] else ''}`) on {d['date']} "
            f"in {d['duration_s']:.0f} s. Every figure of this file is also in `results.json`.\n\n",
            "## Machine\n\n", f"{m['cpu']}, {m['logical_cores']} logical cores ({m['physical_cores']} physical), "
            f"{m['memory_gb']} GB RAM, {m['os']}, Python {m['python']}. The load generator, the servers, PostgreSQL "
            "and Redis share this machine; other processes running at the same time show up in machine CPU.\n\n",
            "## Versions\n\n", ", ".join(f"{k} {val}" for k, val in v.items()) + "\n\n",
            "## Targets (issue #10)\n\n", "| target | measured | met | what stands in the way |\n|---|---|---|---|\n"]
    for t in d["targets"]:
        text.append(f"| {t['target']} | {_fmt(t['measured'])} | {'met' if t['met'] else 'NOT MET'} | {_fmt(t['blocker'])} |\n")
    for title, prefix, columns in SECTIONS:
        rows = [r for r in d["rows"] if r["kind"].startswith(prefix)]
        if rows or prefix != "error.":
            text += [f"\n## {title}\n\n", _table(rows, columns)]
    text += ["\n## Decisions and their measurements\n\n", DECISIONS.read_text()]
    text += ["\n## Setup of this run\n\n", "".join(f"- {k}: {_fmt(val)}\n" for k, val in d["setup"].items()),
             "\n## How to read this\n\n", METHOD]
    return "".join(text)


METHOD = """\
- **Latency** of a webhook event: from just before its request is written to the socket (perf_counter
  in the load generator) to the arrival of the `message.created` frame carrying the event's marker
  (in the message text, matched in `data.body`) on the rep's websocket; same process, same clock.
  Percentiles are over every frame that arrived. **Lost**: the frame never arrived while the server
  worked off the step (`settle_s`: seconds after the last send until every frame was in, or every
  request was answered and no stored webhook was left unprocessed; "—" means the harness gave up
  after `backlog_cap_s`, and the higher rates of that ladder were not run). **Misrouted**: a frame
  that arrived on another user's socket (must be 0).
- **Open loop**: request i is written at t0 + i/rate whatever happened to earlier ones, over
  keep-alive HTTP/1.1 connections (a new one is opened whenever none is idle). `generator_lag_p99_ms`
  shows how late the generator itself was; `generator_stalls` counts requests that had to wait for
  a connection (the cap is 2,000), i.e. moments the generator was not open-loop.
- A rate qualifies for "highest rate with p99 < 100 ms" only with no frame lost. Once a rate of a
  ladder missed that, the higher rates send for `overload_step_s` only (their row's `step_s`): they
  show how the server degrades, at a bounded cost in time.
- Each socket count runs on a fresh daphne (and an emptied Redis): connect, idle measurement, a
  short warm-up, then the ladder.
- **CPU**: `machine_cpu_pct` is percent of all cores; `*_cpu_pct_core` is percent of one core of a
  process tree, measured while sending (server: the daphne process; postgres: every PostgreSQL
  process on the machine). **RSS** is the daphne process's peak resident memory during the idle window.
- Sockets authenticate with single-use tickets from `core.ws_auth.ticket_issue`, created through
  the ORM in the harness just before each batch of 500 connects.
- Servers run as subprocesses with daphne's defaults (as `make run` starts them) against their own
  database `switchboard_bench` on the embedded PostgreSQL and a private Redis started for the run.
"""
