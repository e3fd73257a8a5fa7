"""Database reads the inbox socket needs (run in a thread by the consumer)."""
from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Min

from core import presence
from core.models import EventCursor, UserEvent
from core.realtime import ADMIN_GROUP, team_group, user_group
from core.ws_auth import ticket_redeem
from salesreps.selectors import rep_of
from salesreps.services import rep_presence_changed


@dataclass
class SocketIdentity:
    user: object
    user_id: int
    rep_id: int | None
    groups: list[str]
    last_seq: int
    password_hash: str
    session_key: str | None


def socket_identity(*, user, session, via_ticket: bool) -> SocketIdentity | None:
    """Who the socket belongs to and its groups; last_seq is read later, after joining groups."""

    user = get_user_model().objects.filter(pk=user.pk, is_active=True).first()
    if user is None:
        return None
    rep = rep_of(user)
    groups = [user_group(user.id)]
    if rep and rep.is_manager and rep.team_id:
        groups.append(team_group(rep.team_id))
    if user.is_superuser:
        groups.append(ADMIN_GROUP)
    session_key = None if via_ticket or session is None else session.session_key
    return SocketIdentity(user, user.id, rep.id if rep else None, groups, 0, user.password, session_key)


def connect_identity(*, user, ticket: str, session) -> SocketIdentity | None:
    """One thread hop for the whole authentication of a new socket: ticket or session user."""

    if ticket:
        user = ticket_redeem(key=ticket)
    if user is None or not user.is_authenticated:
        return None
    return socket_identity(user=user, session=session, via_ticket=bool(ticket))


def socket_opened(*, identity: SocketIdentity) -> int:
    """After joining the groups: mark the rep online and return the cursor to start from."""
    if identity.rep_id and presence.socket_opened(rep_id=identity.rep_id):
        rep_presence_changed(rep_id=identity.rep_id, online=True)
    return last_seq(identity.user_id)


def socket_closed(*, rep_id: int) -> None:
    if presence.socket_closed(rep_id=rep_id):
        rep_presence_changed(rep_id=rep_id, online=False)


def last_seq(user_id: int) -> int:
    return EventCursor.objects.filter(user_id=user_id).values_list("last_seq", flat=True).first() or 0


REPLAY_PAGE = 5000


def replay_after(*, user_id: int, after: int, until: int | None) -> list[dict] | None:
    """Stored frames of one user with after < seq (< until), in order; None if some were pruned."""
    events = UserEvent.objects.filter(user_id=user_id, seq__gt=after)
    if until is not None:
        events = events.filter(seq__lt=until)
    rows = list(events.order_by("seq").values_list("seq", "name", "data")[:REPLAY_PAGE])
    expected_first = after + 1
    if (not rows or rows[0][0] != expected_first) and after < last_seq(user_id):
        oldest = UserEvent.objects.filter(user_id=user_id).aggregate(m=Min("seq"))["m"]
        if oldest is None or oldest > expected_first:
            return None
    return [{"event": name, "seq": seq, "data": data} for seq, name, data in rows]


def retention_hours() -> int:
    return settings.EVENT_RETENTION_HOURS
