"""Who a rep is in the organisation: their user, role and team, which decide what they may see.

Changing any of them (or deleting the rep or their team) changes the user's access: their open
sockets are closed to reconnect with the new groups, and events stored under the old access are
never replayed (core.realtime.access_changed). Everything that changes a role or a team goes
through here: the admin's rep and team pages call these functions.
"""
from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from core.logs import entity_log
from core.realtime import access_changed
from salesreps.models import SalesRep, Team

log = entity_log("reps")


def _access(rep: SalesRep) -> tuple:
    return rep.user_id, rep.role, rep.team_id


@transaction.atomic
def rep_save(*, rep: SalesRep) -> SalesRep:
    """Create or save a rep as given (the admin's form has applied its values). A new rep, or a new
    user, role or team, changes the access of the user (and of the previous user)."""
    before = SalesRep.objects.select_for_update(of=("self",)).filter(pk=rep.pk).first() if rep.pk else None
    rep.save()
    if before is None or _access(before) != _access(rep):
        access_changed({rep.user_id} | ({before.user_id} if before else set()))
        log.info("rep access changed", rep=rep.id, role=rep.role, team=rep.team_id,
                 previous_role=before.role if before else None, previous_team=before.team_id if before else None)
    return rep


@transaction.atomic
def rep_set_role(*, rep_id: int, role: str, team_id: int | None) -> SalesRep:
    """Give a rep a role and a team (None: no team)."""
    rep = SalesRep.objects.select_for_update(of=("self",)).get(pk=rep_id)
    rep.role, rep.team_id = role, team_id
    return rep_save(rep=rep)


@transaction.atomic
def reps_delete(*, rep_ids: Iterable[int]) -> int:
    """Delete reps; their users keep their accounts, without a role."""
    reps = SalesRep.objects.filter(pk__in=list(rep_ids))
    users = set(reps.values_list("user_id", flat=True))
    count = len(users)
    for rep in reps:
        rep.delete()
    access_changed(users)
    log.info("reps deleted", count=count)
    return count


@transaction.atomic
def teams_delete(*, team_ids: Iterable[int]) -> int:
    """Delete teams: their reps, contacts, channels and campaigns keep existing without a team."""
    team_ids = list(team_ids)
    users = set(SalesRep.objects.filter(team_id__in=team_ids).values_list("user_id", flat=True))
    count, _ = Team.objects.filter(pk__in=team_ids).delete()
    access_changed(users)
    log.info("teams deleted", count=count)
    return count
