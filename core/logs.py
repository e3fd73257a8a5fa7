"""Structured log lines that carry the ids of what they are about.

`entity_log("messages").info("sent", message=12, conversation=3, rep=5)` writes
`sent message=12 conversation=3 rep=5`, so `grep message=12 var/log/*.log` tells the whole
story of one message. Each entity kind also has its own file under var/log/.
"""
from __future__ import annotations

import json
import logging
import uuid
from contextvars import ContextVar
from pathlib import Path

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from core.embedded import ServiceError

ENTITY_KINDS = ("contacts", "messages", "conversations", "campaigns", "webhooks", "reps")
request_id: ContextVar[str] = ContextVar("request_id", default="-")


class EntityLogger:
    def __init__(self, kind: str):
        self._logger = logging.getLogger(f"switchboard.{kind}")

    def _log(self, level: int, event: str, ids: dict) -> None:
        if self._logger.isEnabledFor(level):
            self._logger.log(level, event, extra={"ids": ids})

    def info(self, event: str, **ids) -> None:
        self._log(logging.INFO, event, ids)

    def warning(self, event: str, **ids) -> None:
        self._log(logging.WARNING, event, ids)

    def error(self, event: str, **ids) -> None:
        self._log(logging.ERROR, event, ids)


def entity_log(kind: str) -> EntityLogger:
    return EntityLogger(kind)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ids = getattr(record, "ids", {})
        pairs = " ".join(f"{k}={v}" for k, v in ids.items() if v not in (None, ""))
        base = f"{self.formatTime(record)} {record.levelname} {record.name} {record.getMessage()}"
        text = f"{base} {pairs}" if pairs else base
        return text + ("\n" + self.formatException(record.exc_info) if record.exc_info else "")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": self.formatTime(record), "level": record.levelname, "logger": record.name,
            "msg": record.getMessage(), "request_id": request_id.get(), **getattr(record, "ids", {}),
        }
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


def build_logging(*, level: str, fmt: str, log_dir: Path | None) -> dict:
    if fmt not in ("text", "json"):

        raise ServiceError(f"LOG_FORMAT={fmt!r} must be 'text' or 'json'")
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):

        raise ServiceError(f"LOG_LEVEL={level!r} must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
    formatter = "core.logs.JsonFormatter" if fmt == "json" else "core.logs.TextFormatter"
    handlers: dict = {"console": {"class": "logging.StreamHandler", "formatter": "main"}}
    loggers: dict = {"switchboard": {"handlers": ["console"], "level": level, "propagate": False}}
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        for kind in ENTITY_KINDS:
            handlers[kind] = {
                "class": "logging.handlers.WatchedFileHandler",
                "filename": str(log_dir / f"{kind}.log"),
                "formatter": "main",
            }
            loggers[f"switchboard.{kind}"] = {"handlers": ["console", kind], "level": level, "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"main": {"()": formatter}},
        "handlers": handlers,
        "loggers": loggers,
        "root": {"handlers": ["console"], "level": "WARNING"},
    }


class RequestIdMiddleware:
    """Async-capable so it never forces a thread hop in front of async views."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self._acall(request)
        token = request_id.set(request.headers.get("X-Request-Id") or uuid.uuid4().hex[:12])
        try:
            return self.get_response(request)
        finally:
            request_id.reset(token)

    async def _acall(self, request):
        token = request_id.set(request.headers.get("X-Request-Id") or uuid.uuid4().hex[:12])
        try:
            return await self.get_response(request)
        finally:
            request_id.reset(token)
