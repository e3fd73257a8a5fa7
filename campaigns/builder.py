"""Reads for the manager console's campaign builder: how many contacts an audience filter matches
(in the teams the manager runs, before a draft exists) and what the builder may offer."""
from __future__ import annotations

from django.db import connection
from django.db.models import Count

from campaigns.models import Campaign
from campaigns.selectors import audience_contacts, channel_rep_channels, reachable_on
from campaigns.validation import CONTACT_VARIABLES, normalize_audience
from inbox.selectors import team_contacts
from salesreps.models import Channel, SalesRep, SalesRepChannel, Team
from salesreps.selectors import managed_team_ids


def builder_team(*, user, team_id: int | None) -> frozenset[int] | None:
    """The teams a campaign of this user targets, as campaign_create would set them: the named team
    (one the user manages), else the one team they manage; None (every team) for an admin naming none.
    A team outside the user's raises ValueError naming it."""
    teams = managed_team_ids(user)
    if team_id is not None:
        if teams is not None and team_id not in teams:
            raise ValueError(f"team {team_id} is not a team you manage")
        if teams is None and not Team.objects.filter(pk=team_id).exists():
            raise ValueError(f"team {team_id} does not exist")
        return frozenset({team_id})
    if teams is not None and len(teams) > 1:
        raise ValueError("you manage several teams: name the team")
    return teams


def audience_preview(*, user, audience: dict, team_id: int | None = None, channel_id: int | None = None,
                     sample: int = 5) -> dict:
    """How many of the team's contacts the filter matches, how many consent keeps out (opted out
    everywhere; opted out of the channel's kind), and the best leads among them. ValueError names
    the bad filter, team or channel."""
    normalized = normalize_audience(audience)
    teams = builder_team(user=user, team_id=team_id)
    probe = Campaign(audience=normalized, team_id=None if teams is None else next(iter(teams)))
    matching = audience_contacts(probe)
    out = {"audience": normalized, "team": probe.team_id, "matching": matching.count(),
           "opted_out": audience_contacts(probe, opted_out=True).count(), "channel": None, "opted_out_channel": 0}
    out["reachable"] = out["matching"]
    if channel_id is not None:
        channel = Channel.objects.filter(pk=channel_id).first()
        if channel is None or not channel_rep_channels(channel.id, teams=teams):
            raise ValueError(f"channel {channel_id} is not a channel your team's reps work")
        reachable = reachable_on(matching, channel).count()
        out.update(channel=channel.id, reachable=reachable, opted_out_channel=out["matching"] - reachable)
    out["sample"] = list(matching.order_by("-lead_score", "id").values("id", "name", "lead_score", "timezone")[:sample])
    return out


def _tag_counts(teams: frozenset[int] | None, limit: int = 50) -> list[dict]:
    sql, params = team_contacts(teams).filter(opted_out=False).values("tags").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tag, count(*) FROM ({sql}) c, unnest(c.tags) tag GROUP BY tag ORDER BY 2 DESC, 1 LIMIT %s",
                       [*params, limit])
        return [{"name": name, "contacts": n} for name, n in cursor.fetchall()]


def builder_options(*, user) -> dict:
    """What the builder offers: the user's teams, the channels their reps work (with those reps),
    the tags, countries and operator codes of their contacts, the variables contacts fill in."""
    teams = managed_team_ids(user)
    team_rows = Team.objects.all() if teams is None else Team.objects.filter(pk__in=teams)
    rep_channels = SalesRepChannel.objects.filter(rep__user__is_active=True, channel__is_active=True)
    if teams is not None:
        rep_channels = rep_channels.filter(rep__team_id__in=teams)
    channels: dict[int, dict] = {}
    for rc in rep_channels.select_related("channel", "rep").order_by("channel__name", "rep__full_name"):
        item = channels.setdefault(rc.channel_id, {"id": rc.channel_id, "name": rc.channel.name, "kind": rc.channel.kind,
                                                   "reps": []})
        item["reps"].append({"id": rc.rep_id, "full_name": rc.rep.full_name, "available": rc.is_available and rc.rep.is_available})
    contacts = team_contacts(teams).filter(opted_out=False)

    def distinct(field: str) -> list[str]:
        rows = contacts.exclude(**{field: ""}).values(field).annotate(n=Count("id")).order_by("-n", field)[:50]
        return [row[field] for row in rows]

    reps = SalesRep.objects.all() if teams is None else SalesRep.objects.filter(team_id__in=teams)
    return {
        "teams": [{"id": t.id, "name": t.name} for t in team_rows.order_by("name")],
        "channels": list(channels.values()),
        "reps": [{"id": r.id, "full_name": r.full_name} for r in reps.order_by("full_name", "id")],
        "tags": _tag_counts(teams),
        "countries": distinct("country"),
        "operator_codes": distinct("operator_code"),
        "contact_variables": sorted(CONTACT_VARIABLES),
    }
