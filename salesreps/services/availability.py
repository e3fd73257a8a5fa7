"""Availability and presence of reps, told to the managers who watch them."""
from __future__ import annotations

from django.db import transaction

from core.logs import entity_log
from core.presence import online_rep_ids
from core.realtime import ADMIN_GROUP, broadcast, emit, team_group
from salesreps.models import SalesRep, SalesRepChannel
from salesreps.selectors import manager_user_ids

log = entity_log("reps")


def rep_presence_changed(*, rep_id: int, online: bool) -> None:
    rep = SalesRep.objects.filter(pk=rep_id).first()
    if rep is None:
        return
    # Sockets open and close all day: sent once to the team's managers and the admins, not stored
    # (the dashboard re-reads presence when it reconnects).

    groups = [ADMIN_GROUP] + ([team_group(rep.team_id)] if rep.team_id else [])
    with transaction.atomic():
        broadcast("rep.presence", {"rep_id": rep.id, "online": online, "available": rep.is_available}, groups)


@transaction.atomic
def rep_set_availability(*, rep: SalesRep, available: bool, channel_id: int | None = None) -> None:
    """Global availability (channel_id None) or one rep-channel's flag."""

    if channel_id is None:
        SalesRep.objects.filter(pk=rep.pk).update(is_available=available)
        rep.is_available = available
    else:
        updated = SalesRepChannel.objects.filter(rep=rep, channel_id=channel_id).update(is_available=available)
        if not updated:
            raise ValueError(f"rep {rep.id} has no channel {channel_id}")
    emit("rep.presence", {"rep_id": rep.id, "online": rep.id in online_rep_ids([rep.id]), "available": rep.is_available},
         manager_user_ids(rep) + [rep.user_id])
    log.info("availability changed", rep=rep.id, channel=channel_id, available=available)
