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
from salesreps.selectors import managed_team_ids, rep_of
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
    access_floor: int = 0  # the user's access floor when the groups were chosen (core.realtime.access_changed)


def socket_identity(*, user, session, via_ticket: bool) -> SocketIdentity | None:
    """Who the socket belongs to and its groups; last_seq is read later, after joining groups."""

    # The floor is read before the role and team: a change committed in between closes the socket
    # at the next check rather than leaving it in the old groups.
    floor = access_floor(user.pk)
    user = get_user_model().objects.filter(pk=user.pk, is_active=True).first()
    if user is None:
        return None
    rep = rep_of(user)
    teams = managed_team_ids(user)  # the team boundary: the same rule as every REST scope
    groups = [user_group(user.id)]
    if teams is None:
        groups.append(ADMIN_GROUP)
    else:
        groups += [team_group(team_id) for team_id in sorted(teams)]
    session_key = None if via_ticket or session is None else session.session_key
    return SocketIdentity(user, user.id, rep.id if rep else None, groups, 0, user.password, session_key, floor)


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


def access_floor(user_id: int) -> int:
    return EventCursor.objects.filter(user_id=user_id).values_list("access_floor", flat=True).first() or 0


REPLAY_PAGE = 5000


def replay_after(*, user_id: int, after: int, until: int | None) -> list[dict] | None:
    """Stored frames of one user with after < seq (< until), in order; None if some were pruned, if
    more than WS_RESUME_MAX_EVENTS are missing (a reload then costs less than the replay), or if
    `after` is below the user's access floor: those events were addressed to the user's old role or
    team, and are never replayed (core.realtime.access_changed)."""
    if after < access_floor(user_id):
        return None
    events = UserEvent.objects.filter(user_id=user_id, seq__gt=after)
    if until is not None:
        events = events.filter(seq__lt=until)
    rows = list(events.order_by("seq").values_list("seq", "name", "data")[:REPLAY_PAGE])
    bound = settings.WS_RESUME_MAX_EVENTS
    if len(rows) > bound or (len(rows) == REPLAY_PAGE and last_seq(user_id) - after > bound):
        return None
    expected_first = after + 1
    if (not rows or rows[0][0] != expected_first) and after < last_seq(user_id):
        oldest = UserEvent.objects.filter(user_id=user_id).aggregate(m=Min("seq"))["m"]
        if oldest is None or oldest > expected_first:
            return None
    return [{"event": name, "seq": seq, "data": data} for seq, name, data in rows]


def retention_hours() -> int:
    return settings.EVENT_RETENTION_HOURS
