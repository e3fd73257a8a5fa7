"""Reads about reps shared by the API and the admin: whose reps a user may see and manage."""
from __future__ import annotations

from django.db.models import QuerySet

from salesreps.models import SalesRep


def own_rep(user) -> SalesRep | None:
    if not user or not user.is_authenticated:
        return None
    try:
        return user.salesrep
    except SalesRep.DoesNotExist:
        return None


def reps_for(user) -> QuerySet[SalesRep]:
    """Admins see every rep, a manager their team (or only themselves without one), a rep themselves."""
    if not user or not user.is_authenticated or not user.is_active:
        return SalesRep.objects.none()
    if user.is_superuser:
        return SalesRep.objects.all()
    rep = own_rep(user)
    if rep is None:
        return SalesRep.objects.none()
    if rep.is_manager and rep.team_id:
        return SalesRep.objects.filter(team_id=rep.team_id)
    return SalesRep.objects.filter(pk=rep.pk)


def can_manage(user, rep: SalesRep) -> bool:
    """Who may change a rep's channels and shifts: admins, and the managers of the rep's team."""
    if user.is_superuser:
        return True
    me = own_rep(user)
    return bool(me and me.is_manager and me.team_id and me.team_id == rep.team_id)
