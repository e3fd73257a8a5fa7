"""The team-boundary matrix: every URL route × {rep A, rep B (same team), manager of team A, manager
of team B, manager without a team, admin}, asserting *content* — the ids each answer carries are
exactly the ones in that caller's scope, written out by hand in `World.scope()` (api_world.py) —
over a world seeded across teams: unassigned conversations of each team (by the contact's team
and by the channel's), one of no team, contacts and campaigns of each team and one of no team.

Reads are compared as sets of ids; every object route is called on every object of its kind, and
must answer 200 (or the write's success) exactly for the objects in scope and 404 for the rest.
Writes run in rolled-back savepoints. Routes that carry no scoped data say why in UNSCOPED.
The socket side (live frames, resume, actions) is test_scope_sockets.py."""
from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from inbox.contact_import import normalize_phone
from inbox.models import Contact, Message
from inbox.services.activities import activity_request_create
from inbox.tests.api_world import ROLES
from inbox.tests.test_api_matrix import all_routes
from salesreps.models import Channel, ChannelActivity, SalesRepChannel

MANAGERS = ("manager_a", "manager_b", "admin")  # who manages a team (managed_team_ids is not empty)


def _ids(body) -> set[int]:
    items = body["results"] if isinstance(body, dict) else body
    return {item["id"] for item in items}


class Cell:
    """One role's client and expected scope, collecting failures instead of stopping at the first."""

    def __init__(self, world, role: str, client):
        self.world, self.role, self.client = world, role, client
        self.scope = world.scope(role)
        self.failures: list[str] = []

    def call(self, method: str, path: str, body=None):
        with transaction.atomic():
            if body is None:
                response = self.client.generic(method, path)
            else:
                response = self.client.generic(method, path, json.dumps(body), content_type="application/json")
            transaction.set_rollback(True)
        return response

    def check(self, ok: bool, what: str) -> None:
        if not ok:
            self.failures.append(f"{self.role:12} {what}")

    def same_ids(self, path: str, expected: set[int], *, status: int = 200, key=_ids) -> None:
        response = self.call("GET", path)
        if response.status_code != status:
            return self.check(False, f"GET {path}: {response.status_code}, expected {status} — {response.content[:200]!r}")
        if status == 200:
            got = key(response.json())
            self.check(got == expected, f"GET {path}: ids {sorted(got)}, expected {sorted(expected)}")

    def each(self, method: str, path: str, objects, visible: set[int], *, ok: int | set = 200, hidden=404, body=None,
             overrides: dict | None = None) -> None:
        """`path` on every object: `ok` for those in scope, `hidden` for the rest (per-object overrides)."""
        for obj_id in objects:
            expected = (overrides or {}).get(obj_id, ok if obj_id in visible else hidden)
            response = self.call(method, path.format(id=obj_id), body(obj_id) if callable(body) else body)
            good = response.status_code in expected if isinstance(expected, set) else response.status_code == expected
            self.check(good, f"{method} {path.format(id=obj_id)}: {response.status_code}, expected {expected}"
                             f" — {response.content[:160]!r}")
            if good and method == "GET" and response.status_code == 200 and "id" in response.json():
                self.check(response.json()["id"] == obj_id, f"GET {path.format(id=obj_id)} answered another id")


def _manages(cell: Cell) -> bool:
    return cell.role in MANAGERS


# ---- one checker per route ----------------------------------------------------------------------


def conversations_list(c: Cell):
    c.same_ids("/api/conversations/?page_size=100", c.scope["conversations"])
    c.same_ids("/api/conversations/?rep=none&page_size=100", c.scope["unassigned"])
    for channel in (c.world.channel, c.world.channel_b, c.world.channel_free):
        in_channel = {x.id for x in c.world.conversations() if x.channel_id == channel.id}
        c.same_ids(f"/api/conversations/?channel={channel.id}&page_size=100", c.scope["conversations"] & in_channel)


def conversation_detail(c: Cell):
    c.each("GET", "/api/conversations/{id}/", [x.id for x in c.world.conversations()], c.scope["conversations"])


def conversation_messages(c: Cell):
    for conversation in c.world.conversations():
        path = f"/api/conversations/{conversation.id}/messages/?page_size=100"
        if conversation.id in c.scope["conversations"]:
            c.same_ids(path, set(Message.objects.filter(conversation=conversation).values_list("id", flat=True)))
        else:
            c.same_ids(path, set(), status=404)
    admin_on_unassigned = {x: 404 for x in c.scope["unassigned"]} if c.role == "admin" else {}  # no rep to send as
    c.each("POST", "/api/conversations/{id}/messages/", [x.id for x in c.world.conversations()], c.scope["conversations"],
           ok=201, body={"text": "from the scope matrix"}, overrides=admin_on_unassigned)


def conversation_read(c: Cell):
    c.each("POST", "/api/conversations/{id}/read/", [x.id for x in c.world.conversations()], c.scope["conversations"])


def conversation_status(c: Cell):
    c.each("POST", "/api/conversations/{id}/status/", [x.id for x in c.world.conversations()], c.scope["conversations"],
           body={"status": "pending"})


def conversation_assign(c: Cell):
    # each manager assigns to a rep of a team they manage; reps and the manager without a team never assign
    target = {"manager_a": c.world.rep_b, "manager_b": c.world.rep_c, "admin": c.world.rep_a}.get(c.role, c.world.rep_a)
    c.each("POST", "/api/conversations/{id}/assign/", [x.id for x in c.world.conversations()],
           c.scope["conversations"] if _manages(c) else set(), body={"rep_id": target.id})
    if c.role in ("manager_a", "manager_b"):  # never to another team's rep
        other = c.world.rep_c if c.role == "manager_a" else c.world.rep_a
        c.each("POST", "/api/conversations/{id}/assign/", sorted(c.scope["conversations"]), c.scope["conversations"],
               ok=400, body={"rep_id": other.id})


def message_search(c: Cell):
    c.same_ids("/api/messages/search/?q=pineapple&page_size=100", c.scope["messages"])


def message_retry(c: Cell):
    visible = {c.world.failed_a.id} if c.world.conv_a.id in c.scope["conversations"] else set()
    c.each("POST", "/api/messages/{id}/retry/", [c.world.failed_a.id], visible)


def contacts_list(c: Cell):
    c.same_ids("/api/contacts/?page_size=100", c.scope["contacts"])
    c.same_ids("/api/contacts/?tag=vip&page_size=100", c.scope["contacts"] & {c.world.contact_b.id})
    for rep in (c.world.rep_a, c.world.rep_c):
        owned = set(Contact.objects.filter(owner=rep).values_list("id", flat=True))
        c.same_ids(f"/api/contacts/?owner={rep.id}&page_size=100", c.scope["contacts"] & owned)
    # a contact created by the caller belongs to the caller's team, and the caller sees it
    response = c.call("POST", "/api/contacts/", {"name": "Matrix New"})
    c.check(response.status_code == 201, f"POST /api/contacts/: {response.status_code}")


def contact_detail(c: Cell):
    everyone = c.world.contacts()
    c.each("GET", "/api/contacts/{id}/", everyone, c.scope["contacts"])
    c.each("PATCH", "/api/contacts/{id}/", everyone, c.scope["contacts"], body={"tags": ["matrix"]})
    c.each("PUT", "/api/contacts/{id}/", everyone, c.scope["contacts"], body={"name": "Renamed"})
    c.each("DELETE", "/api/contacts/{id}/", everyone, c.scope["contacts"], ok=204 if _manages(c) else 403)


def contact_timeline(c: Cell):
    for contact_id in c.world.contacts():
        path = f"/api/contacts/{contact_id}/timeline/?page_size=100"
        if contact_id in c.scope["contacts"]:
            c.same_ids(path, set(Message.objects.filter(conversation__contact_id=contact_id,
                                                        conversation_id__in=c.scope["conversations"]).values_list("id", flat=True)))
        else:
            c.same_ids(path, set(), status=404)


def contact_merge(c: Cell):
    w = c.world
    pairs = [(w.owned_a.id, w.conv_unassigned.contact_id), (w.contact_b.id, w.conv_team_b.contact_id),
             (w.owned_a.id, w.contact_b.id), (w.conv_nobody.contact_id, w.conv_unassigned_b.contact_id)]
    for keep, duplicate in pairs:
        response = c.call("POST", f"/api/contacts/{keep}/merge/", {"duplicate": duplicate})
        if c.role in ("rep_a", "rep_b"):
            expected = 403
        elif keep in c.scope["contacts"] and duplicate in c.scope["contacts"]:
            expected = 200
        else:
            expected = 404
        c.check(response.status_code == expected, f"merge {duplicate} into {keep}: {response.status_code}, expected {expected}")


def contact_duplicates(c: Cell):
    # Bella (team B) shares Olive's (team A) phone: only who sees both sees the pair
    Contact.objects.filter(pk=c.world.contact_b.pk).update(phone=c.world.owned_a.phone)
    pair = {c.world.owned_a.id, c.world.contact_b.id}
    expected = {tuple(sorted(pair))} if pair <= c.scope["contacts"] else set()
    c.same_ids("/api/contacts/duplicates/", expected, status=403 if c.role.startswith("rep") else 200,
               key=lambda groups: {tuple(g["contact_ids"]) for g in groups})


def contact_import(c: Cell):
    """A file naming every contact that has a phone: only those in scope are matched (updated);
    the others are created as the caller's own, never named."""
    by_phone = {}
    for phone, contact_id in Contact.objects.exclude(phone="").values_list("phone", "id"):
        try:
            by_phone[normalize_phone(phone)] = contact_id
        except ValueError:  # a fictional number the CSV check refuses
            continue
    assert len(by_phone) >= 3
    rows = "".join(f"Row {i},{phone}\n" for i, phone in enumerate(sorted(by_phone)))
    with transaction.atomic():
        response = c.client.post("/api/contacts/import/", {"file": SimpleUploadedFile("c.csv", f"name,phone\n{rows}".encode())})
        transaction.set_rollback(True)
    if response.status_code != 201:
        return c.check(False, f"import: {response.status_code} {response.content[:200]!r}")
    matched = set(by_phone.values()) & c.scope["contacts"]
    body = response.json()
    c.check(set(body["updated_ids"]) == matched, f"import updated {body['updated_ids']}, expected {sorted(matched)}")
    c.check(body["imported"] == len(by_phone) - len(matched) and not set(body["ids"]) & set(by_phone.values()),
            f"import created {body['ids']}")


def reps_list(c: Cell):
    c.same_ids("/api/reps/", c.scope["reps"])


def rep_routes(c: Cell):
    reps = sorted(c.world.scope("admin")["reps"])
    c.each("GET", "/api/reps/{id}/", reps, c.scope["reps"])
    c.each("GET", "/api/reps/{id}/today/", reps, c.scope["reps"])
    c.each("GET", "/api/reps/{id}/channels/", reps, c.scope["reps"])
    c.each("GET", "/api/reps/{id}/shifts/", reps, c.scope["reps"])
    c.each("GET", "/api/reps/{id}/schedule/", reps, c.scope["reps"])


def schedule_edit(c: Cell):
    """A manager edits their team's weeks, an admin anyone's; a rep reads their own (403 on PUT)."""
    reps = sorted(c.world.scope("admin")["reps"])
    # a manager of no team manages nobody, themselves included
    own = {"rep_a": {c.world.rep_a.id}, "rep_b": {c.world.rep_b.id}, "manager_none": {c.world.manager_none.id}}.get(c.role, set())
    week = {"timezone": "Europe/Lisbon", "week": [{"weekday": 0, "start": "09:00", "end": "13:00"}], "time_off": []}
    c.each("PUT", "/api/reps/{id}/schedule/", reps, c.scope["reps"], body=week,
           overrides={rep_id: 403 for rep_id in own})


def rep_channel_detail(c: Cell):
    rc = c.world.rep_channel_a
    expected = 200 if c.world.rep_a.id in c.scope["reps"] else 404
    response = c.call("GET", f"/api/reps/{c.world.rep_a.id}/channels/{rc.id}/")
    c.check(response.status_code == expected, f"rep channel: {response.status_code}, expected {expected}")


def shift_detail(c: Cell):
    response = c.call("GET", f"/api/reps/{c.world.rep_a.id}/shifts/999999/")
    c.check(response.status_code == 404, f"unknown shift: {response.status_code}")


def me(c: Cell):
    response = c.call("GET", "/api/me/")
    c.check(response.json()["id"] == c.world.users()[c.role].id, "me is someone else")
    if c.role != "admin":
        response = c.call("GET", "/api/reps/me/")
        c.check(response.json()["id"] == getattr(c.world, c.role).id, "reps/me is someone else")


def _campaign_ids(c: Cell) -> list[int]:
    return sorted(c.world.scope("admin")["campaigns"])


def campaigns_list(c: Cell):
    c.same_ids("/api/campaigns/", c.scope["campaigns"], status=200 if _manages(c) else 403)


def campaign_detail(c: Cell):
    hidden = 404 if _manages(c) else 403
    c.each("GET", "/api/campaigns/{id}/", _campaign_ids(c), c.scope["campaigns"], hidden=hidden)
    c.each("PATCH", "/api/campaigns/{id}/", _campaign_ids(c), c.scope["campaigns"], ok={200, 400}, hidden=hidden,
           body={"name": "Renamed by the matrix"})
    c.each("DELETE", "/api/campaigns/{id}/", _campaign_ids(c), c.scope["campaigns"], ok={204, 400}, hidden=hidden)


def campaign_recipients(c: Cell):
    w = c.world
    recipients = {w.campaign_a.id: {w.recipient_a.id}, w.campaign_b.id: {w.recipient_b.id}, w.campaign_admin.id: set()}
    for campaign_id, expected in recipients.items():
        if campaign_id in c.scope["campaigns"]:
            c.same_ids(f"/api/campaigns/{campaign_id}/recipients/", expected)
        else:
            c.same_ids(f"/api/campaigns/{campaign_id}/recipients/", set(), status=404 if _manages(c) else 403)


def campaign_stats(c: Cell):
    c.each("GET", "/api/campaigns/{id}/stats/", _campaign_ids(c), c.scope["campaigns"], hidden=404 if _manages(c) else 403)


def campaign_action(verb: str):
    def check(c: Cell):
        # a running campaign or a draft: the verb works or is refused (400); never 404 in scope
        c.each("POST", f"/api/campaigns/{{id}}/{verb}/", _campaign_ids(c), c.scope["campaigns"], ok={200, 400},
               hidden=404 if _manages(c) else 403)
    return check


def campaign_create(c: Cell):
    """A manager's campaign is their team's, on a channel their team's reps work; admins choose."""
    w = c.world
    body = {"name": "Matrix", "text": "Hi {first_name}", "start_at": "2030-03-08T09:00:00", "end_at": "2030-03-08T17:00:00"}
    outcomes = {  # channel → expected status
        "manager_a": {w.channel.id: 201, w.channel_b.id: 400, w.channel_free.id: 400},
        "manager_b": {w.channel.id: 400, w.channel_b.id: 201, w.channel_free.id: 201},
        "admin": {w.channel.id: 201, w.channel_b.id: 201, w.channel_free.id: 201},
    }.get(c.role)
    for channel_id in (w.channel.id, w.channel_b.id, w.channel_free.id):
        response = c.call("POST", "/api/campaigns/", {**body, "channel": channel_id})
        expected = outcomes[channel_id] if outcomes else 403
        c.check(response.status_code == expected, f"create on channel {channel_id}: {response.status_code}, expected {expected}"
                                                  f" — {response.content[:200]!r}")
        if response.status_code == 201:
            team = {"manager_a": w.team_a.id, "manager_b": w.team_b.id}.get(c.role)
            c.check(response.json()["team"] == team, f"campaign team {response.json()['team']}, expected {team}")
    if c.role == "manager_b":  # naming another team is refused
        response = c.call("POST", "/api/campaigns/", {**body, "channel": w.channel.id, "team": w.team_a.id})
        c.check(response.status_code == 403, f"create for team A: {response.status_code}")


def dashboard(c: Cell):
    response = c.call("GET", "/api/dashboard/")
    if not _manages(c):
        return c.check(response.status_code == 403, f"dashboard: {response.status_code}")
    data = response.json()
    got = {key: {row["id"] for row in data[key]} for key in ("unassigned", "campaigns", "reps")}
    expected = {"unassigned": c.scope["unassigned"], "campaigns": c.scope["campaigns"],
                "reps": c.scope["reps"] if c.role != "admin" else c.scope["reps"]}
    c.check(got == expected, f"dashboard {got}, expected {expected}")
    went = Message.objects.filter(conversation_id__in=c.scope["conversations"]).exclude(  # the chart counts what went
        direction="out", status__in=["queued", "deferred", "sending", "failed", "cancelled"])
    c.check(sum(row["count"] for row in data["messages_per_day"]) == went.count(), "dashboard counts other teams' messages")
    c.check(data["open_conversations"] == len(c.scope["conversations"]), "dashboard counts other teams' conversations")


def campaign_audience(c: Cell):
    """The builder's live count: only the caller's teams' contacts, never more than they may see."""
    response = c.call("GET", "/api/campaigns/audience/")
    if not _manages(c):
        return c.check(response.status_code == 403, f"audience: {response.status_code}")
    data = response.json()
    sample = {row["id"] for row in data["sample"]}
    c.check(sample <= c.scope["contacts"], f"audience sample {sorted(sample)} outside {sorted(c.scope['contacts'])}")
    c.check(data["matching"] <= len(c.scope["contacts"]), f"audience counts {data['matching']} of {len(c.scope['contacts'])}")


def campaign_options(c: Cell):
    response = c.call("GET", "/api/campaigns/options/")
    if not _manages(c):
        return c.check(response.status_code == 403, f"options: {response.status_code}")
    reps = {row["id"] for row in response.json()["reps"]}
    c.check(reps == c.scope["reps"], f"options reps {sorted(reps)}, expected {sorted(c.scope['reps'])}")


def activities(c: Cell):
    """Activity requests on every rep-channel (queued by the admin): each role lists and retries only its own scope's."""
    w = c.world
    admin = w.users()["admin"]
    for channel in Channel.objects.all():
        ChannelActivity.objects.get_or_create(channel=channel, name="like")
    made = {activity_request_create(user=admin, rep_channel_id=rc.id, activity="like", target="https://x.test/p/1")[0].id: rc.rep_id
            for rc in SalesRepChannel.objects.all()}
    visible = {request_id for request_id, rep_id in made.items() if rep_id in c.scope["reps"]}
    c.same_ids("/api/activities/", visible)
    # queued, not failed: in scope the answer says so (400), out of scope it does not exist (404)
    c.each("POST", "/api/activities/{id}/retry/", sorted(made), visible, ok=400)
    for rc in SalesRepChannel.objects.all():
        body = {"rep_channel": rc.id, "activity": "like", "target": "https://x.test/p/2"}
        response = c.call("POST", "/api/activities/", body)
        expected = 201 if rc.rep_id in c.scope["reps"] else 404
        c.check(response.status_code == expected, f"request on rep-channel {rc.id}: {response.status_code}, expected {expected}")


def contact_campaigns(c: Cell):
    contacts = sorted(c.world.scope("admin")["contacts"])
    c.each("GET", "/api/contacts/{id}/campaigns/", contacts, c.scope["contacts"])


def conversation_counts(c: Cell):
    data = c.call("GET", "/api/conversations/counts/").json()
    c.check(sum(data["by_status"].values()) == len(c.scope["conversations"]),
            f"counts {data['by_status']} for {len(c.scope['conversations'])} conversations in scope")


def conversation_unread(c: Cell):
    conversations = sorted(c.world.scope("admin")["conversations"])
    c.each("POST", "/api/conversations/{id}/unread/", conversations, c.scope["conversations"])


def message_media(c: Cell):
    """No message in this world has an attachment: 404 everywhere, and never another team's file (test_api_rep_inbox)."""
    messages = sorted(c.world.scope("admin")["messages"])
    c.each("GET", "/api/messages/{id}/media/", messages, c.scope["messages"], ok=404)


def templates(c: Cell):
    c.same_ids("/api/templates/", {c.world.template.id})  # templates are shared by every team


def channels(c: Cell):
    everyone = {c.world.channel.id, c.world.channel_b.id, c.world.channel_free.id}
    c.same_ids("/api/channels/", everyone)  # channels are configuration every signed-in user reads (no secrets)


def ws_ticket(c: Cell):
    c.check(c.call("POST", "/api/ws-ticket/").status_code == 201, "no ticket")  # what the socket then shows: the socket matrix


CONTENT = {
    "api/me/": me,
    "api/conversations/": conversations_list,
    "api/conversations/{pk}/": conversation_detail,
    "api/conversations/{pk}/assign/": conversation_assign,
    "api/conversations/{pk}/read/": conversation_read,
    "api/conversations/{pk}/status/": conversation_status,
    "api/conversations/{conversation_id}/messages/": conversation_messages,
    "api/messages/search/": message_search,
    "api/messages/{message_id}/retry/": message_retry,
    "api/contacts/": contacts_list,
    "api/contacts/{pk}/": contact_detail,
    "api/contacts/{pk}/timeline/": contact_timeline,
    "api/contacts/{pk}/merge/": contact_merge,
    "api/contacts/duplicates/": contact_duplicates,
    "api/contacts/import/": contact_import,
    "api/templates/": templates,
    "api/channels/": channels,
    "api/reps/": reps_list,
    "api/reps/me/": me,
    "api/reps/{pk}/": rep_routes,
    "api/reps/{pk}/today/": rep_routes,
    "api/reps/{rep_pk}/channels/": rep_routes,
    "api/reps/{rep_pk}/channels/{pk}/": rep_channel_detail,
    "api/reps/{rep_pk}/shifts/": rep_routes,
    "api/reps/{rep_pk}/schedule/": schedule_edit,
    "api/activities/": activities,
    "api/activities/{request_id}/retry/": activities,
    "api/contacts/{contact_id}/campaigns/": contact_campaigns,
    "api/conversations/counts/": conversation_counts,
    "api/conversations/{pk}/unread/": conversation_unread,
    "api/messages/{message_id}/media/": message_media,
    "api/reps/{rep_pk}/shifts/{pk}/": shift_detail,
    "api/campaigns/": campaigns_list,
    "api/campaigns/{pk}/": campaign_detail,
    "api/campaigns/{pk}/recipients/": campaign_recipients,
    "api/campaigns/{pk}/stats/": campaign_stats,
    **{f"api/campaigns/{{pk}}/{verb}/": campaign_action(verb) for verb in ("start", "pause", "resume", "cancel")},
    "api/dashboard/": dashboard,
    "api/campaigns/audience/": campaign_audience,
    "api/campaigns/options/": campaign_options,
    "api/ws-ticket/": ws_ticket,
}
CONTENT_EXTRA = {"campaign create": campaign_create}
# Routes with no team-scoped content, and why (their status per role is test_api_matrix's).
UNSCOPED = {
    "api/auth/token/": "answers a token for the credentials given, nothing else",
    "api/templates/{pk}/": "templates are shared by every team (the list is checked above)",
    "api/templates/{pk}/preview/": "renders the template with the variables given",
    "api/channels/{pk}/": "channel configuration, read by everyone (the list is checked above)",
    "api/schema/": "the API's description", "api/docs/": "the API's description",
    "healthz": "service health", "webhooks/{platform}/": "platforms, signed",
    "login/": "the sign-in page", "logout/": "signs out", "dashboard/": "the page; its data is api/dashboard/",
    "": "the inbox page; its data is the API and the socket",
    **{route: "the operator pages and their API are for admins, who see everything (test_api_matrix refuses the rest)"
       for route in ("operator/", "operator/channels/", "operator/channels/{channel_id}/", "operator/people/",
                     "operator/templates/", "api/operator/reps/", "api/operator/reps/{rep_id}/", "api/operator/teams/",
                     "api/operator/platforms/", "api/operator/channels/{channel_id}/rep-channels/",
                     "api/operator/rep-channels/{rep_channel_id}/", "api/operator/channels/{channel_id}/webhook/",
                     "api/operator/channels/{channel_id}/verify-token/", "api/operator/channels/{channel_id}/test-event/",
                     "api/operator/channels/{channel_id}/webhook-events/", "api/operator/webhook-events/{event_id}/redrive/")},
}


def test_every_route_has_a_content_check_or_a_reason():
    routes = {r for r in all_routes() if not r.startswith("admin/")}
    missing = sorted(routes - set(CONTENT) - set(UNSCOPED))
    assert not missing, f"routes without a team-boundary content check (add them to CONTENT or UNSCOPED): {missing}"
    assert not (set(CONTENT) | set(UNSCOPED)) - routes, "stale entries"


def test_the_world_is_seeded_across_teams(world):
    """The matrix means something only if each role's scope is neither empty nor everything."""
    everything = world.scope("admin")
    for role in ("manager_a", "manager_b"):
        scope = world.scope(role)
        for kind in ("conversations", "unassigned", "contacts", "campaigns", "messages"):
            assert scope[kind] and scope[kind] < everything[kind], (role, kind)
    assert world.scope("manager_a")["conversations"].isdisjoint(world.scope("manager_b")["conversations"])


@pytest.mark.parametrize("key", sorted(CONTENT) + sorted(CONTENT_EXTRA))
def test_scope_matrix(key, world, client_for):
    check = CONTENT.get(key) or CONTENT_EXTRA[key]
    failures = []
    for role in ROLES:
        cell = Cell(world, role, client_for(world.users()[role]))
        with transaction.atomic():
            check(cell)
            transaction.set_rollback(True)
        failures += cell.failures
    assert not failures, f"[{key}]\n" + "\n".join(failures)
