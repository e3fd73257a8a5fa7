"""`make run`: embedded services, migrations, demo data, then daphne + worker + beat in the foreground.

A process that crashes is restarted with a log line (Supervisor); Ctrl-C stops the three
processes and then the embedded PostgreSQL and Redis.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from core import embedded


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex((host, port)) == 0


class Supervisor:
    """Runs the stack's processes and restarts one that dies (with a log line and a growing pause),
    instead of taking the whole stack down; a process that keeps dying right after its start
    (MAX_QUICK_DEATHS in a row) stops the stack with the reason."""

    MAX_QUICK_DEATHS = 5
    QUICK = 10.0  # seconds: a death sooner than this after a start counts as quick
    PAUSE = 0.5  # seconds before the first quick restart; doubles with each quick death

    def __init__(self, commands: dict[str, list[str]], *, env: dict | None = None, out=sys.stderr):
        self.commands, self.env, self.out = commands, env, out
        self.procs: dict[str, subprocess.Popen] = {}
        self.started: dict[str, float] = {}
        self.quick_deaths: dict[str, int] = dict.fromkeys(commands, 0)
        self.restarts: dict[str, int] = dict.fromkeys(commands, 0)
        self.stopping = False
        self.failed = ""

    def _spawn(self, name: str) -> None:
        self.procs[name] = subprocess.Popen(self.commands[name], env=self.env)
        self.started[name] = time.monotonic()

    def start(self) -> None:
        for name in self.commands:
            self._spawn(name)

    def check(self) -> None:
        """Restart what died since the last check (one pass; `watch` loops over it)."""
        for name, proc in self.procs.items():
            code = proc.poll()
            if code is None or self.stopping:
                continue
            quick = time.monotonic() - self.started[name] < self.QUICK
            self.quick_deaths[name] = self.quick_deaths[name] + 1 if quick else 0
            if self.quick_deaths[name] >= self.MAX_QUICK_DEATHS:
                self.failed = f"{name} exited {self.quick_deaths[name]} times right after starting (status {code}); stopping the rest"
                print(self.failed, file=self.out, flush=True)
                self.stopping = True
                return
            pause = min(30.0, self.PAUSE * 2 ** self.quick_deaths[name]) if quick else 0.0
            self.restarts[name] += 1
            print(f"{name} exited with status {code}; restarting it (restart {self.restarts[name]}"
                  f"{f', after {pause:.1f} s' if pause else ''})", file=self.out, flush=True)
            time.sleep(pause)
            self._spawn(name)

    def watch(self, poll: float = 0.3) -> None:
        while not self.stopping:
            self.check()
            time.sleep(poll)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def main() -> int:
    host = os.environ.get("HOST", "127.0.0.1")
    try:
        port = int(os.environ.get("PORT", "8000"))
    except ValueError:
        raise embedded.ServiceError(f"PORT={os.environ['PORT']!r} is not a number") from None
    if port_in_use(host, port):
        raise embedded.ServiceError(f"port {port} on {host} is already in use: stop what runs there or set PORT=")
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", embedded.ensure_postgres())
    env.setdefault("REDIS_URL", embedded.ensure_redis())
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    py = sys.executable
    for step in (["manage.py", "migrate", "--no-input", "-v", "0"], ["manage.py", "seed_demo", "--demo-logins"],
                 ["manage.py", "collectstatic", "--no-input", "-v", "0"]):
        if subprocess.run([py, *step], env=env).returncode != 0:
            raise embedded.ServiceError(f"{' '.join(step[1:])} failed (see above); nothing under var/ was removed")
    bin_dir = os.path.dirname(py)
    celery_level = os.environ.get("CELERY_LOG_LEVEL", "warning")
    supervisor = Supervisor({
        "web": [os.path.join(bin_dir, "daphne"), "-b", host, "-p", str(port), "config.asgi:application"],
        # Celery's own INFO is a line per task run and per beat tick (every 2 s when idle): the console
        # keeps its warnings and errors; the app's loggers (switchboard.*) keep LOG_LEVEL.
        "worker": [os.path.join(bin_dir, "celery"), "-A", "config", "worker", "-l", celery_level, "-c", "2"],
        "beat": [os.path.join(bin_dir, "celery"), "-A", "config", "beat", "-l", celery_level],
    }, env=env)
    supervisor.start()
    print(f"Switchboard is running at http://{host}:{port}/  (Ctrl-C stops everything)", flush=True)

    def stop(*_):
        supervisor.stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    supervisor.watch()
    supervisor.stop()
    if "DATABASE_URL" not in os.environ or "REDIS_URL" not in os.environ:
        embedded.main(["", "down"])
    return 1 if supervisor.failed else 0


if __name__ == "__main__":
    sys.exit(main())
