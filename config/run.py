"""`make run`: embedded services, migrations, demo data, then daphne + worker + beat in the foreground.

Ctrl-C stops the three processes and then the embedded PostgreSQL and Redis.
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
    for step in (["manage.py", "migrate", "--no-input", "-v", "0"], ["manage.py", "seed_demo"],
                 ["manage.py", "collectstatic", "--no-input", "-v", "0"]):
        if subprocess.run([py, *step], env=env).returncode != 0:
            raise embedded.ServiceError(f"{' '.join(step[1:])} failed (see above); nothing under var/ was removed")
    bin_dir = os.path.dirname(py)
    procs = {
        "web": subprocess.Popen([os.path.join(bin_dir, "daphne"), "-b", host, "-p", str(port), "config.asgi:application"], env=env),
        "worker": subprocess.Popen([os.path.join(bin_dir, "celery"), "-A", "config", "worker", "-l", "info", "-c", "2"], env=env),
        "beat": subprocess.Popen([os.path.join(bin_dir, "celery"), "-A", "config", "beat", "-l", "info"], env=env),
    }
    print(f"Switchboard is running at http://{host}:{port}/  (Ctrl-C stops everything)", flush=True)
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping and all(p.poll() is None for p in procs.values()):
        time.sleep(0.3)
    for name, proc in procs.items():
        if proc.poll() is None:
            proc.terminate()
        elif not stopping:
            print(f"{name} exited with status {proc.returncode}; stopping the rest", file=sys.stderr)
    for proc in procs.values():
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    if "DATABASE_URL" not in os.environ or "REDIS_URL" not in os.environ:
        embedded.main(["", "down"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
