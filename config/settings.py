"""Switchboard settings: everything from the environment, embedded services when unset."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import dj_database_url

from core import embedded
from core.env import (
    env_bool,
    env_int,
    env_list,
    env_str,
    env_url,
    fernet_keys,
    generated_secrets,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = embedded.VAR
TESTING = "pytest" in sys.modules or env_bool("SWITCHBOARD_TESTING", False)

_generated = generated_secrets(VAR_DIR)
SECRET_KEY = env_str("SECRET_KEY") or _generated["SECRET_KEY"]
FIELD_ENCRYPTION_KEYS = fernet_keys(
    "FIELD_ENCRYPTION_KEY", env_str("FIELD_ENCRYPTION_KEY") or _generated["FIELD_ENCRYPTION_KEY"]
)
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list(
    "CSRF_TRUSTED_ORIGINS",
    [f"http://{h}:{p}" for h in ("127.0.0.1", "localhost") for p in (8000, 80)],
)

DATABASE_URL = env_url("DATABASE_URL", ("postgres", "postgresql")) or embedded.ensure_postgres()
REDIS_URL = (env_url("REDIS_URL", ("redis", "rediss")) or embedded.ensure_redis()).rstrip("/")
# Tests use their own Redis databases (8–10) so a running `make run` is never disturbed, and a
# namespace per test run (queue, layer prefix, cache keys) so concurrent runs don't share work.
_R = 8 if TESTING else 0
NAMESPACE = env_str("SWITCHBOARD_NAMESPACE") or (f"t{os.getpid()}" if TESTING else "sb")
os.environ.setdefault("SWITCHBOARD_NAMESPACE", NAMESPACE)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "core",
    "salesreps",
    "inbox",
    "webhooks",
    "campaigns",
    "frontend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.logs.RequestIdMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
DATABASES["default"]["CONN_MAX_AGE"] = 0
DATABASES["default"]["TEST"] = {"NAME": f"test_switchboard_{NAMESPACE}"}
# Django's pool (psycopg 3): CONN_MAX_AGE leaks connections under ASGI (PITFALLS.md).
DATABASES["default"]["OPTIONS"] = {
    "pool": {"min_size": 1, "max_size": env_int("DB_POOL_MAX", 20, minimum=1), "timeout": 10}
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
# Static files are served by the app itself (config/asgi.py), straight from the apps: no CDN.
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"
DATA_UPLOAD_MAX_MEMORY_SIZE = 3 * 1024 * 1024  # Meta payloads reach 3 MB

# Redis: one server, separate logical databases per use.
CHANNEL_LAYER_KIND = env_str("CHANNEL_LAYER", "pubsub")
_layer_backend = {
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
    "core": "channels_redis.core.RedisChannelLayer",
}.get(CHANNEL_LAYER_KIND)
if _layer_backend is None:
    raise embedded.ServiceError(f"CHANNEL_LAYER={CHANNEL_LAYER_KIND!r} must be 'pubsub' or 'core'")
if TESTING and env_str("CHANNEL_LAYER_DROP") and CHANNEL_LAYER_KIND == "pubsub":
    _layer_backend = "core.tests.chaos.DroppingPubSubLayer"  # the chaos test's fault injection
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": _layer_backend,
        "CONFIG": {
            # redis-py 8 caps async pools at 100 connections by default (PITFALLS.md).
            "hosts": [{"address": f"{REDIS_URL}/{_R}", "max_connections": 1000}],
            "prefix": f"asgi-{NAMESPACE}",
            **({"capacity": 1000, "group_expiry": 7 * 86400} if CHANNEL_LAYER_KIND == "core" else {}),
        },
    }
}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": f"{REDIS_URL}/{_R + 2}", "KEY_PREFIX": NAMESPACE}}

CELERY_BROKER_URL = f"{REDIS_URL}/{_R + 1}"
CELERY_RESULT_BACKEND = None
CELERY_TASK_DEFAULT_QUEUE = f"switchboard-{NAMESPACE}"
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# kombu waits for ever on a Redis that keeps the TCP connection but does not answer (frozen,
# failover, a partition) unless the socket has a timeout; above BRPOP's 1 s poll.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "socket_timeout": 2, "socket_connect_timeout": 2}
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "switchboard@localhost")
STATS_EMAIL_TO = env_list("STATS_EMAIL_TO", [])

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Switchboard API",
    "DESCRIPTION": "Real-time outreach inbox: conversations, messages, reps, channels.",
    "VERSION": "1.0.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
    # Anonymous callers get 401/403 everywhere but the login and token endpoints, the schema included.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "ENUM_NAME_OVERRIDES": {
        "ChannelKindEnum": "salesreps.models.ChannelKind",
        "ConversationStatusEnum": "inbox.models.Conversation.Status",
        "MessageStatusEnum": "inbox.models.Message.Status",
    },
}

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOG_FORMAT = env_str("LOG_FORMAT", "text")
LOG_DIR = None if env_str("LOG_DIR") == "-" else Path(env_str("LOG_DIR", str(VAR_DIR / "log")))
LOGGING = __import__("core.logs", fromlist=["build_logging"]).build_logging(
    level=LOG_LEVEL, fmt=LOG_FORMAT, log_dir=LOG_DIR
)

# Realtime: events are kept at least this long for `resume`.
EVENT_RETENTION_HOURS = env_int("EVENT_RETENTION_HOURS", 48, minimum=24)
WS_TICKET_TTL_SECONDS = 60
WS_MAX_FRAME_BYTES = 64 * 1024
WS_MAX_ACTIONS_PER_SECOND = 20
WS_HEARTBEAT_SECONDS = env_int("WS_HEARTBEAT_SECONDS", 25, minimum=1)
WS_SESSION_CHECK_SECONDS = 3
# Pacing between sends of one rep-channel (seconds).
SEND_MIN_GAP_SECONDS = float(env_int("SEND_MIN_GAP_MS", 0 if TESTING else 20000)) / 1000
# How long a provider may take to answer a send before the answer counts as lost (ambiguous).
PROVIDER_TIMEOUT_SECONDS = env_int("PROVIDER_TIMEOUT_MS", 10000, minimum=100) / 1000
SEND_JITTER_SECONDS = float(env_int("SEND_JITTER_MS", 0 if TESTING else 10000)) / 1000
# A live reply (someone wrote on the channel in the last 24 h) waits only this long after the last send.
REPLY_GAP_SECONDS = env_int("REPLY_GAP_MS", 0 if TESTING else 2000) / 1000
SEND_LEASE_SECONDS = env_int("SEND_LEASE_SECONDS", 120, minimum=5)
# Provider calls in flight per dispatch worker, per provider (channel kind) and per rep-channel.
SEND_CONCURRENCY = env_int("SEND_CONCURRENCY", 32, minimum=1)
SEND_PER_PROVIDER = env_int("SEND_PER_PROVIDER", 32, minimum=1)
SEND_PER_REP_CHANNEL = env_int("SEND_PER_REP_CHANNEL", 4, minimum=1)
# Where inbound webhooks are processed after they are stored: "worker" (a Celery task; the web
# process only verifies and stores, measured faster under load in bench/RESULTS.md) or "server"
# (a thread pool in the web process; no worker needed, used by the tests).
WEBHOOK_PROCESSING = env_str("WEBHOOK_PROCESSING", "server" if TESTING else "worker")
if WEBHOOK_PROCESSING not in ("worker", "server"):
    raise embedded.ServiceError(f"WEBHOOK_PROCESSING={WEBHOOK_PROCESSING!r} must be 'worker' or 'server'")
PROVIDER_BASE_URLS = {}  # per-platform override of the provider API base URL, set per channel config too
