"""Reads for the manager dashboard: the team, its capacity today, the queue, volumes."""
from __future__ import annotations

from datetime import timedelta

from django.db.models import Avg, Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from campaigns.selectors import campaigns_for
from core.presence import online_rep_ids
from inbox.models import Conversation, Message
from inbox.payloads import conversation_payload
from inbox.selectors import conversations_for
from salesreps.models import SalesRep
from salesreps.selectors import managed_team_ids, manages_a_team, rep_today


def team_reps(user):
    """The reps of the teams the user manages (managed_team_ids): every rep for an admin."""
    teams = managed_team_ids(user)
    return SalesRep.objects.all() if teams is None else SalesRep.objects.filter(team_id__in=teams)


def can_see_dashboard(user) -> bool:
    return manages_a_team(user)


def dashboard_data(*, user, days: int = 7) -> dict:
    reps = list(team_reps(user).select_related("user").order_by("full_name", "id"))
    online = online_rep_ids([r.id for r in reps])
    rep_rows = []
    for rep in reps:
        today = rep_today(rep=rep)
        activities = [a for c in today["channels"] for a in c["activities"]]
        rep_rows.append({"id": rep.id, "full_name": rep.full_name, "role": rep.role, "online": rep.id in online,
                         "available": rep.is_available, "used": sum(a["used"] for a in activities),
                         "allowance": sum(a["allowance"] for a in activities)})
    scope = conversations_for(user)
    since = timezone.now() - timedelta(days=days)
    per_day = (Message.objects.filter(conversation__in=scope.values("id"), created_at__gte=since)
               .annotate(day=TruncDate("created_at")).values("day", "channel__kind").annotate(n=Count("id")).order_by("day"))
    unassigned = scope.filter(rep__isnull=True).exclude(status="resolved").select_related("contact", "channel")
    return {
        "reps": rep_rows,
        "unassigned": [conversation_payload(c) for c in unassigned.order_by("-last_message_at")[:50]],
        "messages_per_day": [{"day": row["day"].isoformat(), "channel": row["channel__kind"], "count": row["n"]} for row in per_day],
        "first_response_seconds": scope.aggregate(avg=Avg("first_response_seconds"))["avg"],
        "open_conversations": scope.exclude(status="resolved").count(),
        "campaigns": _campaigns(user),
    }


def _campaigns(user) -> list[dict]:
    rows = (campaigns_for(user).values("id", "name", "status", "recipients__state").annotate(n=Count("recipients"))
            .order_by("-id")[:200])
    campaigns: dict[int, dict] = {}
    for row in rows:
        item = campaigns.setdefault(row["id"], {"id": row["id"], "name": row["name"], "status": row["status"], "states": {}})
        if row["recipients__state"]:
            item["states"][row["recipients__state"]] = row["n"]
    return list(campaigns.values())[:10]


__all__ = ["can_see_dashboard", "dashboard_data", "team_reps", "Conversation"]
