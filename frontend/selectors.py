"""Reads for the manager console: the live team board (presence, open work, today's use against
each allowance with the limit that binds, what waits and until when), the queue and the charts."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time, timedelta

from django.db.models import Avg, Count, F, Min, Q, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from campaigns.selectors import campaigns_for
from core.presence import online_rep_ids
from inbox.models import ActivityRequest, Conversation, Message
from inbox.payloads import conversation_payload
from inbox.selectors import conversations_for
from inbox.sending import PAUSED_CODE
from salesreps.models import SalesRep
from salesreps.selectors import managed_team_ids, manages_a_team, rep_today

MAX_DAYS = 90


def team_reps(user):
    """The reps of the teams the user manages (managed_team_ids): every rep for an admin."""
    teams = managed_team_ids(user)
    return SalesRep.objects.all() if teams is None else SalesRep.objects.filter(team_id__in=teams)


def can_see_dashboard(user) -> bool:
    return manages_a_team(user)


def _iso(value):
    return value.isoformat() if value is not None else None


def _waiting(rep_ids: list[int]) -> dict[int, list[dict]]:
    """Per rep: what waits (queued or deferred) — their conversations' outbound messages and their
    activity requests (likes, comments…) — by what it is and why, with how many and the earliest time
    they may go (none for a paused campaign's)."""
    messages = (Message.objects.filter(conversation__rep_id__in=rep_ids, direction="out", status__in=["queued", "deferred"])
                .values("status", "defer_code", rep_id=F("conversation__rep_id"))
                .annotate(n=Count("id"), until=Min("due_at"), reason=Min("defer_reason"), what=Value("message")))
    activities = (ActivityRequest.objects.filter(rep_channel__rep_id__in=rep_ids, status__in=["queued", "deferred"])
                  .values("status", "defer_code", "activity", rep_id=F("rep_channel__rep_id"))
                  .annotate(n=Count("id"), until=Min("due_at"), reason=Min("defer_reason")))
    rows = [*messages, *({**row, "what": row["activity"]} for row in activities)]
    out: dict[int, list[dict]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: (r["rep_id"], r["what"] != "message", r["what"], r["status"], r["defer_code"])):
        paused = row["defer_code"] == PAUSED_CODE
        out[row["rep_id"]].append({
            "activity": row["what"], "status": row["status"], "code": row["defer_code"], "reason": row["reason"] or "",
            "count": row["n"], "until": None if paused else _iso(row["until"])})
    return out


def _board_channel(channel: dict) -> dict:
    return {
        "rep_channel_id": channel["rep_channel_id"], "channel": channel["channel"], "available": channel["available"],
        "sandbox": channel["sandbox"], "timezone": channel["timezone"],
        "activities": [{
            "activity": a["activity"], "used": a["used"], "allowance": a["allowance"], "max_capacity": a["max_capacity"],
            "remaining": a["remaining"], "binding_limit": a["binding_limit"], "blocked_by": a["blocked_by"],
            "open_now": a["open_now"], "next_opening": _iso(a["next_opening"]), "window_closes": _iso(a["window_closes"]),
        } for a in channel["activities"]],
    }


def team_board(*, user) -> list[dict]:
    """One row per rep of the user's teams: online (socket presence), available, open conversations,
    today per channel and activity (rep_today), what waits, and today's shift errors."""
    reps = list(team_reps(user).select_related("user").order_by("full_name", "id"))
    ids = [r.id for r in reps]
    online = online_rep_ids(ids)
    open_counts = dict(Conversation.objects.filter(rep_id__in=ids).exclude(status="resolved").values_list("rep_id")
                       .annotate(n=Count("id")).order_by())
    waiting = _waiting(ids)
    rows = []
    for rep in reps:
        today = rep_today(rep=rep)
        channels = [_board_channel(c) for c in today["channels"]]
        activities = [a for c in channels for a in c["activities"]]
        rows.append({
            "id": rep.id, "full_name": rep.full_name, "role": rep.role, "online": rep.id in online,
            "available": rep.is_available, "open_conversations": open_counts.get(rep.id, 0),
            "used": sum(a["used"] for a in activities), "allowance": sum(a["allowance"] for a in activities),
            "channels": channels, "waiting": waiting.get(rep.id, []),
            "shifts": [{"date": sh["date"].isoformat(), "number": sh["number"], "is_day_off": sh["is_day_off"],
                        "start_time": _iso(sh["start_time"]), "end_time": _iso(sh["end_time"]), "records": sh["records"]}
                       for sh in today["shifts"]],
            "errors": [{"code": e["code"], "level": e["level"], "message": e["message"], "count": e["count"]}
                       for e in today["errors"][:5]],
        })
    return rows


EXCHANGED = Q(direction="in") | Q(direction="out", status__in=["sent", "delivered", "read"])


def dashboard_data(*, user, days: int = 14) -> dict:
    """The board, the queue and the charts, all of the user's teams only (conversations_for,
    campaigns_for). The charts cover `days` whole days ending today (settings.TIME_ZONE, the zone
    TruncDate buckets in), listed in `dates` so the browser draws the server's days, not its own:
    messages exchanged per day by channel (received, and sent — never one still queued, held or
    cancelled, so a campaign's plan is no spike), counted on the day they went; the average
    first-response time per day of the conversations opened that day, and over the period."""
    days = max(1, min(MAX_DAYS, days))
    scope = conversations_for(user)
    today = timezone.localdate()
    dates = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
    since = timezone.make_aware(datetime.combine(dates[0], time(0)))
    per_day = (Message.objects.filter(EXCHANGED, conversation__in=scope.values("id"))
               .annotate(at=Coalesce("sent_at", "created_at")).filter(at__gte=since)
               .annotate(day=TruncDate("at")).values("day", "channel__kind").annotate(n=Count("id")).order_by("day"))
    responded = scope.filter(created_at__gte=since, first_response_seconds__isnull=False)
    first_response = (responded.annotate(day=TruncDate("created_at")).values("day")
                      .annotate(avg=Avg("first_response_seconds"), n=Count("id")).order_by("day"))
    unassigned = scope.filter(rep__isnull=True).exclude(status="resolved").select_related("contact", "channel")
    return {
        "days": days,
        "dates": [d.isoformat() for d in dates],
        "reps": team_board(user=user),
        "unassigned": [conversation_payload(c) for c in unassigned.order_by("-last_message_at")[:50]],
        "messages_per_day": [{"day": row["day"].isoformat(), "channel": row["channel__kind"], "count": row["n"]} for row in per_day],
        "first_response_per_day": [{"day": row["day"].isoformat(), "seconds": round(row["avg"]), "conversations": row["n"]}
                                   for row in first_response],
        "first_response_seconds": responded.aggregate(avg=Avg("first_response_seconds"))["avg"],
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


__all__ = ["can_see_dashboard", "dashboard_data", "team_board", "team_reps"]
