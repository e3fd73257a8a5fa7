"""A daphne of the hostile-webhook tests: heartbeats every second, a public base URL set."""
from __future__ import annotations

import time

import pytest

from conftest import ROOT, daphne

PUBLIC_BASE_URL = "https://inbox.example.com"


@pytest.fixture(scope="module")
def hostile_daphne(django_db_setup):
    with daphne(ROOT / "var" / "daphne-hostile.log", {"WS_HEARTBEAT_SECONDS": "1", "PUBLIC_BASE_URL": PUBLIC_BASE_URL}) as base:
        yield base


@pytest.fixture
def hostile_server(transactional_db, hostile_daphne, django_db_blocker):
    """The server's base URL; afterwards, as the root conftest does for asgi_server, wait until its
    processes stop writing, so the teardown's TRUNCATE does not deadlock with them."""
    yield hostile_daphne
    from django.db import connection

    deadline = time.monotonic() + 10
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND pid <> pg_backend_pid() AND state <> 'idle'")
            if cursor.fetchone()[0] == 0:
                return
            time.sleep(0.1)
