"""Who is online, closing sockets whose user was deactivated, logged out or changed password (or
whose role or team changed), and telling each socket the server's current seq for its user.

Each process keeps a registry of its open inbox sockets; one periodic check per process (two
queries for all of them, every few seconds) closes the sockets that lost their right and hands
every other one its user's last stored seq, so a socket whose live frame was dropped fills.
"""
from __future__ import annotations

import asyncio
import logging

import redis
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.utils import timezone

from core.models import EventCursor
from core.ws_auth import CLOSE_ACCESS_CHANGED, CLOSE_UNAUTHENTICATED

logger = logging.getLogger("switchboard.realtime")
_sockets: set = set()
_checker: asyncio.Task | None = None
_redis = None


def _client():
    global _redis
    if _redis is None:
        _redis = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    return _redis


def _key(rep_id: int) -> str:
    return f"{settings.NAMESPACE}:presence:{rep_id}"


def register(consumer) -> None:
    global _checker
    _sockets.add(consumer)
    if _checker is None or _checker.done():
        _checker = asyncio.ensure_future(_check_forever())


def unregister(consumer) -> None:
    _sockets.discard(consumer)


def socket_opened(*, rep_id: int) -> bool:
    """Count one more socket of the rep; True when the rep just came online (the caller tells)."""
    return _client().incr(_key(rep_id)) == 1


def socket_closed(*, rep_id: int) -> bool:
    """Count one socket less; True when the rep's last socket closed (the caller tells)."""
    if _client().decr(_key(rep_id)) <= 0:
        _client().delete(_key(rep_id))
        return True
    return False


def online_rep_ids(rep_ids: list[int]) -> set[int]:
    if not rep_ids:
        return set()
    values = _client().mget([_key(r) for r in rep_ids])
    return {r for r, v in zip(rep_ids, values, strict=True) if v and int(v) > 0}


def _revoked(identities: list) -> set[int]:
    """Ids of identities (by index) that lost their right to an open socket."""

    users = dict(get_user_model().objects.filter(id__in={i.user_id for i in identities}, is_active=True).values_list("id", "password"))
    keys = {i.session_key for i in identities if i.session_key}
    live_sessions = set(Session.objects.filter(session_key__in=keys, expire_date__gt=timezone.now()).values_list("session_key", flat=True))
    bad = set()
    for index, identity in enumerate(identities):
        if users.get(identity.user_id) != identity.password_hash:
            bad.add(index)
        elif identity.session_key and identity.session_key not in live_sessions:
            bad.add(index)
    return bad


def _cursors(user_ids: set[int]) -> dict[int, tuple[int, int]]:
    """Each user's (last stored seq, access floor): one query for every socket of the process."""
    return {user_id: (seq, floor) for user_id, seq, floor in
            EventCursor.objects.filter(user_id__in=user_ids).values_list("user_id", "last_seq", "access_floor")}


async def _check_forever() -> None:
    while _sockets:
        await asyncio.sleep(settings.WS_SESSION_CHECK_SECONDS)
        consumers = [c for c in list(_sockets) if getattr(c, "identity", None)]
        if not consumers:
            continue
        try:
            bad = await database_sync_to_async(_revoked)([c.identity for c in consumers])
        except Exception:
            logger.warning("socket revocation check failed", exc_info=True)
            continue
        for index in bad:
            await consumers[index].close(code=CLOSE_UNAUTHENTICATED)
        try:
            cursors = await database_sync_to_async(_cursors)({c.identity.user_id for c in consumers})
        except Exception:
            logger.warning("socket cursor check failed", exc_info=True)
            continue
        for index, consumer in enumerate(consumers):
            if index in bad:
                continue
            seq, floor = cursors.get(consumer.identity.user_id, (0, 0))
            if floor != getattr(consumer.identity, "access_floor", 0):
                # The role or team changed since the socket chose its groups (its close message was lost).
                await consumer.close(code=CLOSE_ACCESS_CHANGED)
                continue
            await consumer.server_seq_is(seq)
