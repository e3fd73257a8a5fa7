"""What WhatsApp, Messenger and Instagram share: Meta's webhook signature and hub.challenge
handshake, the secrets a Meta app has, and Graph API sends.

Meta webhooks carry no delivery id, so the dedup key is the body's sha256; statuses arrive
out of order and twice, which the pipeline absorbs by being idempotent on external ids.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

import httpx

from .base import RawRequest, SendResult
from .common import dig, hmac_hex, matches_any, post, sha256_hex, usable

GRAPH_VERSION = "v21.0"
GRAPH_BASE_URL = "https://graph.facebook.com"

# The app secret signs webhooks, the access token authorizes sends, the verify token answers
# the subscription handshake.
SECRET_NAMES = ("app_secret", "access_token", "verify_token")
SIGNING_SECRET_NAMES = ("app_secret",)
HANDSHAKE_SECRET_NAMES = ("verify_token",)

# Graph answers throttling and transient faults with HTTP 400 and one of these codes:
# 1/2 temporary API faults, 4/17/32/613 app/user/page call limits, 80007 WABA rate limit,
# 130429 Cloud API throughput, 131048 spam rate limit, 131056 pair (business→user) rate limit.
RETRYABLE_GRAPH_CODES = frozenset({"1", "2", "4", "17", "32", "613", "80007", "130429", "131048", "131056"})


# ---------------------------------------------------------------- webhook security


def verify(*, request: RawRequest, secrets: list[str], now: float) -> bool:
    """`x-hub-signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>`; `now` is unused
    because Meta signs no timestamp."""
    header = request.headers.get("x-hub-signature-256", "").strip()
    if not header.startswith("sha256="):
        return False
    given = header.removeprefix("sha256=").lower()
    return matches_any([hmac_hex(secret, request.body) for secret in usable(secrets)], given)


def dedup_key(*, request: RawRequest) -> str:
    return sha256_hex(request.body)


def handshake(*, params: Mapping[str, str], verify_tokens: list[str]) -> str | None:
    """The GET subscription check: echo hub.challenge only to a subscribe with our token."""
    if params.get("hub.mode") != "subscribe":
        return None
    token = params.get("hub.verify_token") or ""
    challenge = params.get("hub.challenge")
    if not token or challenge is None:
        return None
    return challenge if matches_any(usable(verify_tokens), token) else None


# ---------------------------------------------------------------- Graph API sends


def graph_error(body: dict) -> tuple[str, str]:
    return dig(body, "error", "code"), dig(body, "error", "message")


def graph_post(
    client: httpx.Client, url: str, *, token: str, payload: dict, external_id: Callable[[dict], str]
) -> SendResult:
    # The token goes in a header, not the query string, so it stays out of access logs.
    return post(
        client,
        url,
        external_id=external_id,
        error=graph_error,
        retryable_codes=RETRYABLE_GRAPH_CODES,
        json=payload,
        headers={"Authorization": f"Bearer {token}"},
    )
