"""Production settings as docker-compose.yml runs them: explicit keys or no start, `check --deploy`
clean, TLS behind a proxy (redirect, HSTS, secure cookies), and the container health check."""
from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from cryptography.fernet import Fernet

from core.env import example_values

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def compose_env(var: Path, **overrides) -> dict:
    """What web, worker and beat start with: `.env` (here: `.env.example` with real keys) under the
    compose file's own `environment:` (which wins, as in compose), and nothing from this process."""
    env = {"PATH": os.environ["PATH"], "SWITCHBOARD_VAR": str(var), "LOG_DIR": "-",
           **example_values(ROOT / ".env.example"),
           "SECRET_KEY": secrets.token_urlsafe(50), "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
           **compose()["x-app"]["environment"]}
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_compose_and_the_image_run_the_production_settings():
    assert compose()["x-app"]["environment"]["SWITCHBOARD_ENV"] == "production"
    for name in ("web", "worker", "beat"):
        assert compose()["services"][name]["environment"]["SWITCHBOARD_ENV"] == "production", name
    assert re.search(r"^ENV .*\bSWITCHBOARD_ENV=production\b", (ROOT / "Dockerfile").read_text(), re.M)


def test_check_deploy_passes_with_the_compose_environment(tmp_path):
    result = manage(compose_env(tmp_path / "var"), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNING" not in result.stderr and "WARNINGS" not in result.stdout
    assert not (tmp_path / "var" / "secrets.json").exists()  # production generates nothing


PLACEHOLDERS = example_values(ROOT / ".env.example")


@pytest.mark.parametrize("overrides, message", [
    ({"SECRET_KEY": None}, "SECRET_KEY is not set: production needs one explicit value shared by web, worker and beat"),
    ({"FIELD_ENCRYPTION_KEY": None}, "FIELD_ENCRYPTION_KEY is not set"),
    ({"SECRET_KEY": PLACEHOLDERS["SECRET_KEY"]}, "SECRET_KEY is still the placeholder from .env.example"),
    ({"FIELD_ENCRYPTION_KEY": PLACEHOLDERS["FIELD_ENCRYPTION_KEY"]},
     "FIELD_ENCRYPTION_KEY is still the placeholder from .env.example"),
    ({"SECRET_KEY": "django-insecure-" + "k" * 50}, "SECRET_KEY is too weak"),
    ({"SECRET_KEY": "ab" * 30}, "SECRET_KEY is too weak"),
    ({"FIELD_ENCRYPTION_KEY": "not-a-key"}, "FIELD_ENCRYPTION_KEY is not a valid Fernet key"),
    ({"DEBUG": "true"}, "DEBUG=true with SWITCHBOARD_ENV=production"),
    ({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS is not set"),
    ({"DATABASE_URL": None}, "DATABASE_URL is not set: production starts no embedded services"),
])
def test_production_refuses_to_start_naming_the_setting(tmp_path, overrides, message):
    result = manage(compose_env(tmp_path / "var", **overrides), "check")
    assert result.returncode == 1, result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "var" / "secrets.json").exists()


def test_env_example_copied_as_is_stops_web_worker_and_beat(tmp_path):
    """`cp .env.example .env` and nothing else: each service refuses, naming the key, instead of
    generating a key of its own inside its container."""
    env = compose_env(tmp_path / "var", SECRET_KEY=PLACEHOLDERS["SECRET_KEY"],
                      FIELD_ENCRYPTION_KEY=PLACEHOLDERS["FIELD_ENCRYPTION_KEY"])
    web = manage(env, "check")
    worker = subprocess.run([sys.executable, "-c", "from config.celery import app; app.loader.import_default_modules()"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    for result in (web, worker):
        assert result.returncode == 1
        assert "SECRET_KEY is still the placeholder from .env.example" in result.stderr, result.stderr
    assert not (tmp_path / "var" / "secrets.json").exists()


def test_development_processes_starting_together_share_one_generated_key(tmp_path):
    """No SECRET_KEY/FIELD_ENCRYPTION_KEY in development: web, worker and beat starting at the same
    moment on a fresh var/ all end up with the same keys (what one encrypts, the others decrypt)."""
    var, go = tmp_path / "var", tmp_path / "go"
    code = ("import json, os, sys, time; from pathlib import Path\n"
            f"while not os.path.exists({str(go)!r}): time.sleep(0.001)\n"
            "from core.env import generated_secrets\n"
            f"print(json.dumps(generated_secrets(Path({str(var)!r}))))")
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
             for _ in range(8)]
    time.sleep(0.5)
    go.write_text("")
    outputs = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
    stored = json.loads((var / "secrets.json").read_text())
    assert all(o == stored for o in outputs)
    assert oct((var / "secrets.json").stat().st_mode & 0o777) == "0o600"
    assert not list(var.glob("*.tmp"))


# ---- the web service as compose runs it, behind a TLS proxy ---------------------------------------


@pytest.fixture
def production_web(transactional_db, tmp_path):
    """daphne with the compose environment (on the test database and Redis, its own namespace)."""
    from conftest import _free_port, _test_env, _wait_port

    test = _test_env()
    env = compose_env(tmp_path / "var", DATABASE_URL=test["DATABASE_URL"], REDIS_URL=test["REDIS_URL"],
                      SWITCHBOARD_NAMESPACE=f"prod{os.getpid()}", DJANGO_SETTINGS_MODULE="config.settings")
    port = _free_port()
    log = open(tmp_path / "daphne.log", "w")
    proc = subprocess.Popen([str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_port(port, proc, "production daphne")
        yield port, env
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def test_production_web_redirects_http_and_marks_cookies_secure_behind_the_proxy(production_web):
    port, env = production_web
    host = env["ALLOWED_HOSTS"].split(",")[0]
    base = f"http://127.0.0.1:{port}"
    plain = httpx.get(f"{base}/login/", headers={"Host": host}, timeout=10)
    assert plain.status_code == 301 and plain.headers["location"] == f"https://{host}/login/"

    proxied = {"Host": host, "X-Forwarded-Proto": "https"}
    page = httpx.get(f"{base}/login/", headers=proxied, timeout=10)
    assert page.status_code == 200
    assert page.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    csrf_cookie = next(c for c in page.headers.get_list("set-cookie") if c.startswith("csrftoken="))
    assert "Secure" in csrf_cookie

    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("ops-lead", password="a long enough passphrase")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    signed_in = httpx.post(f"{base}/login/", headers={**proxied, "Origin": f"https://{host}"},
                           cookies={"csrftoken": page.cookies["csrftoken"]}, timeout=30,
                           data={"username": "ops-lead", "password": "a long enough passphrase",
                                 "csrfmiddlewaretoken": token})
    assert signed_in.status_code == 302, signed_in.text
    session_cookie = next(c for c in signed_in.headers.get_list("set-cookie") if c.startswith("sessionid="))
    assert "Secure" in session_cookie and "HttpOnly" in session_cookie

    other = httpx.get(f"{base}/login/", headers={"Host": "evil.example", "X-Forwarded-Proto": "https"}, timeout=10)
    assert other.status_code == 400  # only ALLOWED_HOSTS are served


def test_compose_health_check_passes_against_the_production_web(production_web):
    port, env = production_web
    command = compose()["services"]["web"]["healthcheck"]["test"]
    assert command[0] == "CMD"
    argv = [sys.executable if word == "python" else word.replace(":8000/", f":{port}/") for word in command[1:]]
    result = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    body = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10,
                     headers={"Host": env["ALLOWED_HOSTS"], "X-Forwarded-Proto": "https"}).json()
    assert body == {"status": "ok", "database": "ok", "channel_layer": "ok", "broker": "ok"}
