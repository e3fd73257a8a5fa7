"""Switchboard settings: everything from the environment, embedded services when unset."""
from __future__ import annotations

import ipaddress
import os
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url

from core import embedded
from core.env import (
    env_bool,
    env_int,
    env_list,
    env_str,
    env_url,
    example_values,
    fernet_keys,
    generated_secrets,
    production_secret,
    strong_secret_key,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = embedded.VAR
TESTING = "pytest" in sys.modules or env_bool("SWITCHBOARD_TESTING", False)

# SWITCHBOARD_ENV=production (docker-compose.yml, the Dockerfile): keys must be given, never
# generated, and the deployment sits behind a TLS-terminating proxy. Development generates what
# is missing under var/ and starts embedded PostgreSQL and Redis.
ENVIRONMENT = env_str("SWITCHBOARD_ENV", "development")
if ENVIRONMENT not in ("development", "production"):
    raise embedded.ServiceError(f"SWITCHBOARD_ENV={ENVIRONMENT!r} must be 'development' or 'production'")
PRODUCTION = ENVIRONMENT == "production"
DEBUG = env_bool("DEBUG", False)
if PRODUCTION:
    if DEBUG:
        raise embedded.ServiceError("DEBUG=true with SWITCHBOARD_ENV=production: debug pages show settings and code to anyone")
    _placeholders = example_values(BASE_DIR / ".env.example")
    _hint = "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
    SECRET_KEY = strong_secret_key("SECRET_KEY", production_secret("SECRET_KEY", _placeholders, hint=_hint), hint=_hint)
    _hint = "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
    FIELD_ENCRYPTION_KEYS = fernet_keys("FIELD_ENCRYPTION_KEY", production_secret("FIELD_ENCRYPTION_KEY", _placeholders, hint=_hint))
    for _name in ("DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS"):
        if env_str(_name) is None:
            raise embedded.ServiceError(f"{_name} is not set: production starts no embedded services and serves only named hosts")
else:
    _generated = generated_secrets(VAR_DIR)
    SECRET_KEY = env_str("SECRET_KEY") or _generated["SECRET_KEY"]
    FIELD_ENCRYPTION_KEYS = fernet_keys(
        "FIELD_ENCRYPTION_KEY", env_str("FIELD_ENCRYPTION_KEY") or _generated["FIELD_ENCRYPTION_KEY"]
    )
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
# Same-origin https posts need no entry (Django compares Origin with the request's host).
CSRF_TRUSTED_ORIGINS = env_list(
    "CSRF_TRUSTED_ORIGINS",
    [] if PRODUCTION else [f"http://{h}:{p}" for h in ("127.0.0.1", "localhost") for p in (8000, 80)],
)
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # probes from inside the network speak plain http
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 86400, minimum=1)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    # Preloading is the domain owner's decision (it binds every subdomain for months once listed),
    # not a default of an app that usually serves one host; security.W021 says only that it is off.
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
    SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

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
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # Not a rule: its password_changed hook revokes the account's API tokens on every change.
    {"NAME": "core.tokens.RevokeApiTokensOnPasswordChange"},
]
# API tokens (POST /api/auth/token/) are valid this long from their creation.
TOKEN_TTL = timedelta(hours=env_int("TOKEN_TTL_HOURS", 24, minimum=1))
# Failed sign-ins (/login/, /admin/login/, /api/auth/token/) allowed per username and per client
# address within the window; 0 switches a limit off. Off in the test suite, which signs in a lot:
# the throttle's own tests switch it on.
SIGN_IN_WINDOW_SECONDS = env_int("SIGN_IN_WINDOW_SECONDS", 900, minimum=1)
SIGN_IN_MAX_FAILURES_PER_USERNAME = env_int("SIGN_IN_MAX_FAILURES_PER_USERNAME", 0 if TESTING else 5)
SIGN_IN_MAX_FAILURES_PER_IP = env_int("SIGN_IN_MAX_FAILURES_PER_IP", 0 if TESTING else 50)
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
        "core.tokens.ExpiringTokenAuthentication",
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
        # A rep's role appears in /api/me/, /api/reps/ and the operator's people API: one enum for all.
        "SalesRepRoleEnum": "salesreps.models.SalesRep.Role",
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
# A resume (or reconnect with ?after=) further behind than this gets "reload" instead of a replay.
WS_RESUME_MAX_EVENTS = env_int("WS_RESUME_MAX_EVENTS", 10000, minimum=1)
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
# Hostile webhooks (#17). A body over WEBHOOK_MAX_BODY_BYTES is refused before it is read (Meta's
# reach 3 MB). Verification and parsing of a body over WEBHOOK_INLINE_CHECK_BYTES (or multipart) run
# on one of WEBHOOK_CHECK_THREADS threads, not on the event loop, and answer 503 past the budget;
# smaller ones cost less than the hop (webhooks/endpoint.py).
WEBHOOK_MAX_BODY_BYTES = env_int("WEBHOOK_MAX_BODY_BYTES", 3 * 1024 * 1024, minimum=64 * 1024)
WEBHOOK_INLINE_CHECK_BYTES = env_int("WEBHOOK_INLINE_CHECK_BYTES", 4 * 1024)
WEBHOOK_CHECK_THREADS = env_int("WEBHOOK_CHECK_THREADS", 4, minimum=1)
WEBHOOK_CHECK_BUDGET_SECONDS = env_int("WEBHOOK_CHECK_BUDGET_MS", 2000, minimum=10) / 1000
# Signing secrets are cached per platform this long; a request that fails against the cache
# re-reads them at most once per refresh interval, so a flood of bad signatures costs no read each
# (tests make channels faster than that; webhooks/tests/test_hostile.py sets it back).
WEBHOOK_SECRETS_TTL_SECONDS = env_int("WEBHOOK_SECRETS_TTL_MS", 1000, minimum=1) / 1000
WEBHOOK_SECRETS_REFRESH_SECONDS = env_int("WEBHOOK_SECRETS_REFRESH_MS", 0 if TESTING else 200) / 1000
# URL-signed webhooks (Twilio) are verified against PUBLIC_BASE_URL + path (+ query), the URL the
# platform calls (e.g. https://inbox.example.com). Without it, X-Forwarded-Proto and -Host count
# only from TRUSTED_PROXIES (IPs or CIDRs of the TLS-terminating proxy); from anyone else they are
# ignored. The sign-in throttle reads the client's address from X-Forwarded-For under the same rule.
PUBLIC_BASE_URL = (env_str("PUBLIC_BASE_URL") or "").rstrip("/")
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", [])
if PUBLIC_BASE_URL and not PUBLIC_BASE_URL.startswith(("https://", "http://")):
    raise embedded.ServiceError(f"PUBLIC_BASE_URL={PUBLIC_BASE_URL!r} must start with https:// (or http://)")
try:
    [ipaddress.ip_network(proxy, strict=False) for proxy in TRUSTED_PROXIES]
except ValueError as exc:
    raise embedded.ServiceError(f"TRUSTED_PROXIES: {exc}") from None
PROVIDER_BASE_URLS = {}  # per-platform override of the provider API base URL, set per channel config too
