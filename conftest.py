"""Shared fixtures: the real ASGI server (daphne) and a real Celery worker, both on the test database."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _test_env() -> dict:
    from django.conf import settings

    db = settings.DATABASES["default"]
    host = quote(db["HOST"], safe="") if db["HOST"].startswith("/") else db["HOST"]
    port = f":{db['PORT']}" if db.get("PORT") else ""
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}  # the server keeps its guard
    return {
        **env,
        "DATABASE_URL": f"postgres://{auth}@{host}{port}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "SWITCHBOARD_TESTING": "1",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LOG_DIR": str(ROOT / "var" / "log-test"),
        "WS_HEARTBEAT_SECONDS": "25",
    }


def _wait_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on {port}")


@pytest.fixture
def admin(db):
    """An admin ("root"), who signs in with pass-root like every test user (the operator pages' tests)."""
    from inbox.tests.factories import make_user  # models: importable only once pytest-django has set Django up

    return make_user("root", superuser=True)


@pytest.fixture
def admin_client(admin):
    """Django's test client signed in as `admin` (replaces pytest-django's, whose user has another password)."""
    client = Client()
    client.force_login(admin)
    return client


@contextmanager
def daphne(log_path: Path, env: dict | None = None):
    """A daphne serving config.asgi on a free loopback port (the test settings plus `env`); yields its base URL."""
    port = _free_port()
    with open(log_path, "w") as log:
        proc = subprocess.Popen([str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
                                env={**_test_env(), **(env or {})}, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_port(port, proc, "daphne")
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(10)


@pytest.fixture(scope="session")
def asgi_server(django_db_setup, django_db_blocker):
    with daphne(ROOT / "var" / "daphne-test.log") as base:
        yield base


class Worker:
    def __init__(self, concurrency: int = 2, name: str = "w1", env: dict | None = None):
        self.concurrency, self.name, self.proc, self.extra_env = concurrency, name, None, env or {}

    def start(self) -> Worker:
        log = open(ROOT / "var" / f"celery-{self.name}.log", "a")
        self.proc = subprocess.Popen(
            [str(BIN / "celery"), "-A", "config", "worker", "-l", "info", "-c", str(self.concurrency),
             "-n", f"{self.name}@%h", "--without-gossip", "--without-mingle", "--pool", "prefork"],
            env={**_test_env(), **self.extra_env}, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        from config.celery import app

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            replies = app.control.ping(timeout=0.5) or []
            if any(self.name in list(r)[0] for r in replies):
                return self
            if self.proc.poll() is not None:
                raise RuntimeError("celery worker exited")
        raise RuntimeError("celery worker did not answer ping")

    def kill(self, sig=9) -> None:
        os.killpg(self.proc.pid, sig)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def celery_worker_proc(transactional_db):
    worker = Worker().start()
    yield worker
    worker.stop()


@pytest.fixture(autouse=True)
def _server_settles(request, django_db_blocker):
    """After a test that used the live server, wait until its processes stop writing, so the
    transactional teardown's TRUNCATE doesn't deadlock with a socket's disconnect handling."""
    yield
    if "asgi_server" not in request.fixturenames and "celery_worker_proc" not in request.fixturenames:
        return
    from django.db import connection

    time.sleep(0.3)
    deadline = time.monotonic() + 10
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state <> 'idle'"
            )
            if cursor.fetchone()[0] == 0:
                return
            time.sleep(0.1)


@pytest.fixture(scope="session", autouse=True)
def _release_pooled_connections(django_db_setup, django_db_blocker):
    """Before the test database is dropped, close what this process still holds: the webhook
    processing threads and Django's connection pool keep connections open between tests."""
    yield
    from django.db import connections

    from webhooks import pipeline

    pipeline.drain()
    with django_db_blocker.unblock():
        for connection in connections.all():
            connection.close()
            close_pool = getattr(connection, "close_pool", None)
            if close_pool:
                close_pool()
