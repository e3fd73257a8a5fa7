"""Settings read from the environment, each failure one line naming the variable."""
from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet

from core.embedded import ServiceError


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool) -> bool:
    value = env_str(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ServiceError(f"{name}={value!r} is not a boolean (use true/false, 1/0, yes/no)")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    value = env_str(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ServiceError(f"{name}={value!r} is not an integer") from None
    if number < minimum:
        raise ServiceError(f"{name}={number} must be at least {minimum}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = env_str(name)
    if value is None:
        return default
    items = [item.strip() for item in value.split(",") if item.strip()]
    if not items:
        raise ServiceError(f"{name} is set but lists nothing (comma-separated values expected)")
    return items


def env_url(name: str, schemes: tuple[str, ...]) -> str | None:
    value = env_str(name)
    if value is None:
        return None
    scheme = value.split("://", 1)[0] if "://" in value else ""
    if scheme not in schemes:
        raise ServiceError(f"{name} must be a URL starting with one of {', '.join(s + '://' for s in schemes)}")
    return value


def generated_secrets(var: Path) -> dict[str, str]:
    """Secrets the project makes for itself on first start, kept under var/ across restarts."""

    path = var / "secrets.json"
    var.mkdir(parents=True, exist_ok=True)
    data = json.loads(path.read_text()) if path.exists() else {}
    changed = False
    if "SECRET_KEY" not in data:
        data["SECRET_KEY"], changed = secrets.token_urlsafe(50), True
    if "FIELD_ENCRYPTION_KEY" not in data:
        data["FIELD_ENCRYPTION_KEY"], changed = Fernet.generate_key().decode(), True
    if changed:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.chmod(0o600)
        tmp.replace(path)
    return data


def fernet_keys(name: str, value: str) -> list[str]:
    """FIELD_ENCRYPTION_KEY may list several comma-separated keys: the first encrypts, all decrypt."""

    keys = [k.strip() for k in value.split(",") if k.strip()]
    for key in keys:
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise ServiceError(f"{name} is not a valid Fernet key (32 url-safe base64 bytes)") from None
    return keys
