"""The operator's people page: create a rep with their login, change name, role, team and whether
they may sign in, and create teams. Role and team changes go through rep_save (access changes)."""
from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from core.errors import save_unique
from core.logs import entity_log
from core.realtime import access_changed
from salesreps.models import SalesRep, Team
from salesreps.services.reps import rep_save

log = entity_log("reps")
UNSET = object()


def _team(team_id: int | None) -> Team | None:
    if team_id is None:
        return None
    team = Team.objects.filter(pk=team_id).first()
    if team is None:
        raise ValidationError({"team": f"there is no team {team_id}"})
    return team


@transaction.atomic
def rep_create(*, username: str, full_name: str, role: str, team_id: int | None, email: str = "",
               password: str = "") -> tuple[SalesRep, str]:
    """A new login with its rep. Without a password one is generated; returns (rep, the initial
    password), which the caller shows once: it is stored only hashed."""
    User = get_user_model()
    if role not in SalesRep.Role.values:
        raise ValidationError({"role": f"role must be one of {', '.join(SalesRep.Role.values)}"})
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": f"the username {username!r} is taken"})
    user = User(username=username, email=email)
    initial = password or secrets.token_urlsafe(12)
    if password:
        validate_password(password, user)
    user.set_password(initial)
    user.full_clean(exclude=["password"])
    save_unique(user, constraint="username", taken=ValidationError({"username": f"the username {username!r} is taken"}))
    rep = SalesRep(user=user, full_name=full_name, role=role, team=_team(team_id))
    rep.full_clean()
    rep_save(rep=rep)
    log.info("rep created", rep=rep.id, role=role, team=team_id)
    return rep, initial


@transaction.atomic
def rep_update(*, rep_id: int, full_name: str | None = None, role: str | None = None, team_id=UNSET,
               is_active: bool | None = None) -> SalesRep:
    """Change what is given. is_active False: the user can no longer sign in and their open sockets
    close (Django refuses an inactive user's session on its next request)."""
    rep = SalesRep.objects.select_for_update(of=("self",)).select_related("user").get(pk=rep_id)
    if full_name is not None:
        rep.full_name = full_name
    if role is not None:
        if role not in SalesRep.Role.values:
            raise ValidationError({"role": f"role must be one of {', '.join(SalesRep.Role.values)}"})
        rep.role = role
    if team_id is not UNSET:
        rep.team = _team(team_id)
    rep.full_clean(exclude=["user"])
    rep_save(rep=rep)
    if is_active is not None and rep.user.is_active != is_active:
        get_user_model().objects.filter(pk=rep.user_id).update(is_active=is_active)
        rep.user.is_active = is_active
        access_changed({rep.user_id})
        log.info("rep sign-in " + ("enabled" if is_active else "disabled"), rep=rep.id)
    return rep


@transaction.atomic
def team_create(*, name: str) -> Team:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "a team needs a name"})
    if Team.objects.filter(name__iexact=name).exists():
        raise ValidationError({"name": f"a team named {name!r} already exists"})
    team = Team(name=name)
    team.full_clean()
    save_unique(team, constraint="name", taken=ValidationError({"name": f"a team named {name!r} already exists"}))
    log.info("team created", team=team.id)
    return team
