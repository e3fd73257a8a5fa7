"""Websocket authentication: origin check, single-use tickets, and revocation of open sockets."""
from __future__ import annotations

import secrets
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.models import WsTicket

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_MANY = 4429
CLOSE_TOO_BIG = 4413
CLOSE_REVOKED = 4401
# The user's role or team changed: the socket's groups and replay are the old access's. The client
# reconnects (as after any other close but 4401) and gets the new access's groups; its resume point
# predates the change, so it is answered `reload` (core.realtime.access_changed).
CLOSE_ACCESS_CHANGED = 4409


def origin_allowed(headers: list[tuple[bytes, bytes]]) -> bool:
    """A browser always sends Origin; it must name one of ALLOWED_HOSTS (in DEBUG too).
    Non-browser clients send none and authenticate with a ticket."""
    origin = next((v.decode("latin1") for k, v in headers if k == b"origin"), None)
    if origin is None:
        return True
    host = urlparse(origin).hostname or ""
    return any(h == "*" or host == h or (h.startswith(".") and host.endswith(h)) for h in settings.ALLOWED_HOSTS)


class OriginCheck:
    """Marks foreign-origin connections; the consumer closes them with 4403 after accept,
    so the client sees a close code rather than a bare HTTP 403."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        scope = dict(scope, origin_ok=origin_allowed(scope.get("headers", [])))
        return await self.app(scope, receive, send)


def ticket_issue(*, user) -> WsTicket:
    return WsTicket.objects.create(
        key=secrets.token_urlsafe(32), user=user,
        expires_at=timezone.now() + timedelta(seconds=settings.WS_TICKET_TTL_SECONDS),
    )


def ticket_redeem(*, key: str):
    """The ticket's user if the ticket is valid, unused and unexpired; it is spent either way."""
    if not key or len(key) > 64:
        return None
    with transaction.atomic():
        ticket = WsTicket.objects.select_for_update(of=("self",)).select_related("user").filter(key=key).first()
        if ticket is None or ticket.used_at is not None:
            return None
        ticket.used_at = timezone.now()
        ticket.save(update_fields=["used_at"])
        if ticket.expires_at < ticket.used_at or not ticket.user.is_active:
            return None
        return ticket.user


def ticket_from_scope(scope) -> str:
    query = parse_qs(scope.get("query_string", b"").decode("latin1"))
    return (query.get("ticket") or [""])[0]


def after_from_scope(scope) -> int | None:
    """`?after=N` on a reconnect: resume from N before any live frame (None: not given or not a
    whole number ≥ 0, and then the socket starts from the current seq as before)."""
    query = parse_qs(scope.get("query_string", b"").decode("latin1"))
    raw = (query.get("after") or [""])[0]
    return int(raw) if raw.isdigit() and len(raw) < 19 else None
