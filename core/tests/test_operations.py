"""What an operator relies on: compose commands exist, settings fail clearly, health says what broke, logs carry ids."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_the_production_services_with_health_checks():
    services = compose()["services"]
    assert set(services) == {"postgres", "redis", "web", "worker", "beat"}
    for name in ("postgres", "redis", "web", "worker"):
        assert "healthcheck" in services[name], name
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and env["REDIS_URL"].startswith("redis://")


@pytest.mark.parametrize("service", ["web", "worker", "beat"])
def test_each_compose_command_exists_in_the_project(service):
    command = compose()["services"][service]["command"]
    words = command[2].replace("&&", " ").split() if command[:2] == ["sh", "-c"] else command
    programs = {w for w in words if w in ("daphne", "celery", "python")}
    assert programs, command
    for program in programs:
        assert (BIN / program).exists() or shutil.which(program), program
    if "daphne" in words:
        target = words[words.index("config.asgi:application")]
        module, attribute = target.split(":")
        code = f"import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE','config.settings'); import {module} as m; assert m.{attribute}"
        assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True).returncode == 0
    if "celery" in words:
        app = words[words.index("-A") + 1]
        result = subprocess.run([str(BIN / "celery"), "-A", app, "inspect", "--help"], cwd=ROOT, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
    if "manage.py" in words:
        assert (ROOT / "manage.py").exists()


def run_check(**env):
    full = {**os.environ, "SWITCHBOARD_TESTING": "1", **env}
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=full, capture_output=True, text=True)


@pytest.mark.parametrize("variable, value, message", [
    ("DEBUG", "maybe", "DEBUG='maybe' is not a boolean"),
    ("DATABASE_URL", "mysql://x/y", "DATABASE_URL must be a URL starting with one of postgres://"),
    ("REDIS_URL", "localhost:6379", "REDIS_URL must be a URL starting with one of redis://"),
    ("FIELD_ENCRYPTION_KEY", "too-short", "FIELD_ENCRYPTION_KEY is not a valid Fernet key"),
    ("LOG_FORMAT", "xml", "LOG_FORMAT='xml' must be 'text' or 'json'"),
    ("CHANNEL_LAYER", "memory", "CHANNEL_LAYER='memory' must be 'pubsub' or 'core'"),
    ("ALLOWED_HOSTS", " , ", "ALLOWED_HOSTS is set but lists nothing"),
    ("WEBHOOK_PROCESSING", "later", "WEBHOOK_PROCESSING='later' must be 'worker' or 'server'"),
])
def test_bad_environment_stops_start_up_with_one_line_naming_the_variable(variable, value, message):
    result = run_check(**{variable: value})
    assert result.returncode == 1
    lines = [line for line in result.stderr.strip().splitlines() if line]
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_run_refuses_a_port_in_use_and_says_so():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "config.run"], cwd=ROOT, capture_output=True, text=True,
                                env={**os.environ, "PORT": str(port)}, timeout=60)
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr


@pytest.mark.django_db
def test_healthz_names_the_part_that_failed_and_logs_why_without_telling_the_caller(client, settings, caplog):
    import logging

    settings.CELERY_BROKER_URL = "redis://broker-user:hunter2@127.0.0.1:1/0"
    logger = logging.getLogger("switchboard")  # does not propagate to the root logger caplog listens on
    logger.addHandler(caplog.handler)
    try:
        response = client.get("/healthz")
    finally:
        logger.removeHandler(caplog.handler)
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "ok", "channel_layer": "ok", "broker": "error"}
    record = next(r for r in caplog.records if r.name == "switchboard.health")
    assert record.getMessage() == "healthz: broker failed" and record.exc_info[0].__name__ == "ConnectionError"
    assert "127.0.0.1" not in response.text


def test_log_lines_carry_entity_ids_and_land_in_per_entity_files(tmp_path):
    code = (
        "import django, logging.config; django.setup();"
        "from core.logs import entity_log, build_logging; from pathlib import Path;"
        f"logging.config.dictConfig(build_logging(level='INFO', fmt='json', log_dir=Path({str(tmp_path)!r})));"
        "entity_log('messages').info('message sent', message=12, conversation=3, rep=5)"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True,
                   env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "SWITCHBOARD_TESTING": "1"})
    import json

    line = json.loads((tmp_path / "messages.log").read_text().splitlines()[-1])
    assert (line["msg"], line["message"], line["conversation"], line["rep"]) == ("message sent", 12, 3, 5)
