"""Reads about reps shared by the API and the admin: whose reps a user may see and manage."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from salesreps.models import SalesRep


def rep_of(user) -> SalesRep | None:
    """The signed-in user's rep (reps and managers have one; an admin may not)."""
    if not user or not user.is_authenticated:
        return None
    try:
        return user.salesrep
    except SalesRep.DoesNotExist:
        return None


def is_manager_or_admin(user) -> bool:
    """Admins and managers may manage (assign, write templates, run campaigns); reps may not."""
    if not user or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    rep = rep_of(user)
    return bool(rep and rep.is_manager)


def admin_user_ids() -> list[int]:
    return list(get_user_model().objects.filter(is_superuser=True, is_active=True).values_list("id", flat=True))


def manager_user_ids(rep: SalesRep) -> list[int]:
    """The active managers of the rep's team and every admin: who watches this rep."""
    managers = SalesRep.objects.filter(role="manager", team_id=rep.team_id, user__is_active=True) if rep.team_id else []
    return sorted({m.user_id for m in managers} | set(admin_user_ids()))


def reps_for(user) -> QuerySet[SalesRep]:
    """Admins see every rep, a manager their team (or only themselves without one), a rep themselves."""
    if not user or not user.is_authenticated or not user.is_active:
        return SalesRep.objects.none()
    if user.is_superuser:
        return SalesRep.objects.all()
    rep = rep_of(user)
    if rep is None:
        return SalesRep.objects.none()
    if rep.is_manager and rep.team_id:
        return SalesRep.objects.filter(team_id=rep.team_id)
    return SalesRep.objects.filter(pk=rep.pk)


def can_manage(user, rep: SalesRep) -> bool:
    """Who may change a rep's channels and shifts: admins, and the managers of the rep's team."""
    if user.is_superuser:
        return True
    me = rep_of(user)
    return bool(me and me.is_manager and me.team_id and me.team_id == rep.team_id)
