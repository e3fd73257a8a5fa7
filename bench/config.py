"""Sizes of a full run and of `--smoke`, and the context every phase gets."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

FULL_BUDGET_S = 24 * 60  # `make bench` must end within ~25 minutes


@dataclass(frozen=True)
class Sizes:
    hello_s: float = 5
    hello_conc: int = 64
    rtt_n: int = 3000
    pg_rows: int = 20000
    celery_tasks: int = 5000
    tutorial_sockets: int = 1000
    tutorial_rates: tuple = (50, 100, 200, 400)
    team_size: int = 20  # reps per team; each team has team_managers managers, and there is one admin
    team_managers: int = 2
    webhook_sockets: tuple = (1000,)  # sockets of the audience (reps, their managers, the admin)
    webhook_rates: tuple = (100, 250, 500, 1000)
    step_s: float = 8  # sending time per rate step
    overload_step_s: float = 3  # sending time once a lower rate of the ladder missed p99 < 100 ms
    backlog_cap_s: float = 75  # after sending, wait at most this for every frame / the server's backlog
    idle_sockets: tuple = (10000,)
    idle_window_s: float = 60
    quiet_s: float = 2.0  # no frame for this long = the server settled (after connects)
    warmup_s: float = 1.0
    fanout_sockets: int = 1000
    fanout_events: int = 10
    status_messages: int = 10_000  # a campaign's messages; 3 status webhooks each (sent, delivered, read)
    status_rate: float = 1000
    status_sockets: int = 1000
    status_cap_s: float = 120  # after the burst, wait at most this for every message to be read
    scaleout_sockets: int = 200
    scaleout_rate: float = 1000  # offered webhooks/s: above what 2 cores process, so both setups saturate
    scaleout_s: float = 12
    scaleout_warm_s: float = 4  # the throughput window starts this long after the first send
    scaleout_grace_s: float = 2
    dispatch_rep_channels: int = 1000
    dispatch_per_channel: int = 12  # queued replies per rep-channel: the last 2 meet the daily capacity
    dispatch_capacity: int = 10
    dispatch_cap_s: float = 90
    dispatch_rate_limits: bool = True  # the channel has hourly and daily limits, counted but never reached
    loopback_rep_channels: int = 1000
    loopback_per_channel: int = 5
    loopback_delay_ms: int = 100  # the fake WhatsApp Cloud API answers each send after this long
    loopback_cap_s: float = 90
    loopback_baseline_requests: int = 5000  # a bare HTTP client against the same fake, same run
    loopback_baseline_concurrency: int = 200
    paced_contacts: int = 10_000
    paced_rep_channels: int = 50
    paced_capacity: int = 250  # per rep-channel and day: the whole campaign fits in today
    paced_cut_every: int = 5  # every 5th rep-channel's capacity is cut after the start ...
    paced_cut_capacity: int = 20  # ... to this, so the dispatcher (not the planner) must hold it
    paced_daily_cap: int = 1500  # the campaign's daily cap (0: none)
    paced_gap_ms: int = 1000  # SEND_MIN_GAP_MS of the campaign's workers
    paced_jitter_ms: int = 500  # SEND_JITTER_MS
    paced_window_s: float = 60  # sending time before the campaign is cancelled
    paced_provider: str = "loopback"  # the loopback WhatsApp Cloud API (gaps also seen at the provider), or "sandbox"
    campaign_contacts: int = 100_000
    convlist_conversations: int = 100_000
    convlist_messages_per: int = 10
    convlist_rep_share: int = 10_000  # conversations of the rep whose list is measured
    convlist_requests: int = 200
    budget_s: float = FULL_BUDGET_S

    @property
    def reps(self) -> int:
        return max(*self.webhook_sockets, *self.idle_sockets, self.tutorial_sockets, self.dispatch_rep_channels,
                   self.loopback_rep_channels, self.paced_rep_channels, self.status_sockets, self.scaleout_sockets)

    def events(self, rate: float, seconds: float | None = None) -> int:
        return max(10, int(rate * (self.step_s if seconds is None else seconds)))


FULL = Sizes()
SMOKE = Sizes(
    hello_s=1, hello_conc=16, rtt_n=200, pg_rows=200, celery_tasks=200,
    team_size=5, tutorial_sockets=20, tutorial_rates=(50,), webhook_sockets=(20,), webhook_rates=(50,), step_s=0.4,
    overload_step_s=0.4, backlog_cap_s=10, idle_sockets=(20,), idle_window_s=1, quiet_s=0.5, warmup_s=0.3, fanout_sockets=20, fanout_events=3,
    dispatch_rep_channels=5, dispatch_per_channel=4, dispatch_capacity=3, dispatch_cap_s=30, campaign_contacts=200,
    loopback_rep_channels=5, loopback_per_channel=3, loopback_cap_s=30, loopback_baseline_requests=100,
    loopback_baseline_concurrency=20, paced_contacts=100, paced_rep_channels=5, paced_capacity=40, paced_cut_every=5,
    paced_cut_capacity=2, paced_daily_cap=12, paced_gap_ms=400, paced_jitter_ms=200, paced_window_s=4,
    convlist_conversations=200, convlist_messages_per=10, convlist_rep_share=50, convlist_requests=20, budget_s=170,
    status_messages=200, status_rate=300, status_sockets=20, status_cap_s=20, scaleout_sockets=20, scaleout_rate=100,
    scaleout_s=2, scaleout_warm_s=0.5, scaleout_grace_s=0.5,
)


@dataclass
class Ctx:
    sizes: Sizes
    smoke: bool
    out: Path
    log_dir: Path
    database_url: str = ""
    redis_url: str = ""
    env: dict = field(default_factory=dict)  # for app servers and workers
    procs: dict = field(default_factory=dict)  # long-lived processes by name
    world: object = None
    rows: list = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def left(self) -> float:
        return self.sizes.budget_s - (time.monotonic() - self.started)

    def spare(self, reserve: float) -> float:
        """Seconds left once `reserve` (sized for a full run, scaled to this run's budget) is kept back."""
        return self.left() - reserve * self.sizes.budget_s / FULL_BUDGET_S

    def add(self, kind: str, name: str, params: dict, figures: dict, status: str = "ok", note: str = "") -> dict:
        clean = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in figures.items()}
        row = {"kind": kind, "name": name, "params": params, "figures": clean, "status": status, "note": note}
        self.rows.append(row)
        shown = ", ".join(f"{k}={v}" for k, v in clean.items() if not isinstance(v, dict | list))
        print(f"  [{status}] {name}: {shown}{' — ' + note if note else ''}", flush=True)
        return row

    def skip(self, kind: str, name: str, params: dict, status: str, note: str) -> dict:
        return self.add(kind, name, params, {}, status=status, note=note)
