"""Reads shared by views, consumers and services: who may see what."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from inbox.models import Conversation, Message
from salesreps.models import SalesRep


def rep_of(user) -> SalesRep | None:
    if not user or not user.is_authenticated:
        return None
    try:
        return user.salesrep
    except SalesRep.DoesNotExist:
        return None


def conversation_scope(user) -> Q | None:
    """The Q that limits conversations to what `user` may see; None means nothing."""
    if not user or not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return Q()
    rep = rep_of(user)
    if rep is None:
        return None
    if rep.is_manager and rep.team_id:
        return Q(rep__team_id=rep.team_id) | Q(rep__isnull=True)
    return Q(rep=rep)


def conversations_for(user) -> QuerySet[Conversation]:
    scope = conversation_scope(user)
    if scope is None:
        return Conversation.objects.none()
    return Conversation.objects.filter(scope)


def messages_for(user) -> QuerySet[Message]:
    scope = conversation_scope(user)
    if scope is None:
        return Message.objects.none()
    return Message.objects.filter(conversation__in=Conversation.objects.filter(scope).values("id"))


def admin_user_ids() -> list[int]:
    return list(get_user_model().objects.filter(is_superuser=True, is_active=True).values_list("id", flat=True))


def audience_user_ids(conversation: Conversation) -> list[int]:
    """Users an event about this conversation is addressed to, decided now, from the database."""
    users = set(admin_user_ids())
    reps = SalesRep.objects.filter(role=SalesRep.Role.MANAGER, user__is_active=True)
    if conversation.rep_id:
        rep = conversation.rep
        users.add(rep.user_id)
        reps = reps.filter(team_id=rep.team_id) if rep.team_id else reps.none()
    users.update(reps.values_list("user_id", flat=True))
    return sorted(users)
