"""The authorization matrix: every URL route × {rep A, rep B, manager of another team, admin, anonymous}.

Routes come from django.urls.get_resolver(), so a route added without an entry here fails
`test_every_route_has_a_matrix_entry`. Each cell runs in its own rolled-back savepoint, so one
role's write never changes what the next role sees. Routes owned by other apps assert only what
this table can promise for them: the anonymous answer, and no 5xx for any role."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import URLResolver, get_resolver, resolve

ROLES = ("anonymous", "rep_b", "manager_b", "rep_a", "admin")
DENY = frozenset({401, 403})
NOT_5XX = "not 5xx"
FOREIGN = {"anonymous": DENY, "rep_a": NOT_5XX, "rep_b": NOT_5XX, "manager_b": NOT_5XX, "admin": NOT_5XX}


def everyone(code: int, anonymous=DENY) -> dict:
    return {"anonymous": anonymous, "rep_a": code, "rep_b": code, "manager_b": code, "admin": code}


def scoped(code: int = 200) -> dict:
    """Rep A's own object: A and the admin act on it; rep B and the other team's manager get 404."""
    return {"anonymous": DENY, "rep_a": code, "rep_b": 404, "manager_b": 404, "admin": code}


def writers(code: int, rep_a: int = 403) -> dict:
    """Templates: everyone reads, managers and admins write, reps get 403."""
    return {"anonymous": DENY, "rep_a": rep_a, "rep_b": 403, "manager_b": code, "admin": code}


def admins_only(code) -> dict:
    """The operator pages and their API: admins only; everyone else signed in gets 403."""
    return {"anonymous": DENY, "rep_a": 403, "rep_b": 403, "manager_b": 403, "admin": code}


@dataclass
class Req:
    method: str
    path: str  # formatted with the world's ids: {conv_a}, {contact_a}, {owned_a}, {failed_a}, {template}…
    expect: dict
    body: dict | None = None
    multipart: bool = False
    hidden_from: tuple = ()  # roles whose list must not contain `hidden`
    hidden: str = ""


@dataclass
class Entry:
    owner: str
    requests: list[Req] = field(default_factory=list)


CSV = "name,phone,email,timezone,tags,country\nMatrix Row,+33612349999,,Europe/Paris,vip,FR\n"
TEMPLATE = {"name": "matrix", "body": "Hi {name}"}
OUTSIDERS = ("rep_b", "manager_b")

MATRIX: dict[str, Entry] = {
    # ---- inbox (this app) ------------------------------------------------------------------------
    "api/auth/token/": Entry("inbox", [
        Req("POST", "/api/auth/token/", everyone(400, anonymous=400), {"username": "alice", "password": "wrong"}),
        Req("POST", "/api/auth/token/", everyone(200, anonymous=200), {"username": "alice", "password": "pass-alice"}),
        Req("GET", "/api/auth/token/", everyone(405, anonymous=405)),
    ]),
    "api/me/": Entry("inbox", [Req("GET", "/api/me/", everyone(200))]),
    "api/conversations/": Entry("inbox", [
        Req("GET", "/api/conversations/", everyone(200), hidden_from=OUTSIDERS, hidden="conv_a"),
        Req("GET", "/api/conversations/?rep={rep_a}", everyone(200), hidden_from=OUTSIDERS, hidden="conv_a"),
        Req("GET", "/api/conversations/?status=open&unread=false&search=Ada&channel={channel}", everyone(200),
            hidden_from=OUTSIDERS, hidden="conv_a"),
        Req("POST", "/api/conversations/", everyone(405)),
    ]),
    "api/conversations/{pk}/": Entry("inbox", [
        Req("GET", "/api/conversations/{conv_a}/", scoped()),
        Req("DELETE", "/api/conversations/{conv_a}/", everyone(405)),
    ]),
    "api/conversations/{pk}/assign/": Entry("inbox", [
        # the rep can see it but may not assign: the service answers 404 like an unseen object
        Req("POST", "/api/conversations/{conv_a}/assign/", {**scoped(), "rep_a": 404}, {"rep_id": "{rep_a}"}),
        # another team's rep: admins assign anywhere (managers within their team: test_api)
        Req("POST", "/api/conversations/{conv_a}/assign/", {**scoped(), "rep_a": 404}, {"rep_id": "{rep_c}"}),
    ]),
    "api/conversations/{pk}/read/": Entry("inbox", [Req("POST", "/api/conversations/{conv_a}/read/", scoped())]),
    "api/conversations/{pk}/unread/": Entry("inbox", [Req("POST", "/api/conversations/{conv_a}/unread/", scoped())]),
    "api/conversations/counts/": Entry("inbox", [Req("GET", "/api/conversations/counts/", everyone(200))]),
    "api/conversations/{pk}/status/": Entry("inbox", [
        Req("POST", "/api/conversations/{conv_a}/status/", scoped(), {"status": "pending"}),
    ]),
    "api/conversations/{conversation_id}/messages/": Entry("inbox", [
        Req("GET", "/api/conversations/{conv_a}/messages/", scoped()),
        Req("POST", "/api/conversations/{conv_a}/messages/", scoped(201), {"text": "hello from the matrix"}),
    ]),
    "api/messages/search/": Entry("inbox", [
        Req("GET", "/api/messages/search/?q=pineapple", everyone(200), hidden_from=OUTSIDERS, hidden="msg_a"),
    ]),
    "api/messages/{message_id}/retry/": Entry("inbox", [Req("POST", "/api/messages/{failed_a}/retry/", scoped())]),
    # a message without an attachment: nothing to show, whoever asks (the proxy itself: test_api_rep_inbox)
    "api/messages/{message_id}/media/": Entry("inbox", [Req("GET", "/api/messages/{msg_a}/media/", everyone(404))]),
    # activity requests: the channel has no "like" here, so in scope the answer names it (400); out of scope 404
    "api/activities/": Entry("inbox", [
        Req("GET", "/api/activities/", everyone(200)),
        Req("GET", "/api/activities/?status=nonsense", everyone(400)),
        Req("POST", "/api/activities/", scoped(400), {"rep_channel": "{rep_channel_a}", "activity": "like", "target": "https://x.test/p/1"}),
    ]),
    "api/activities/{request_id}/retry/": Entry("inbox", [Req("POST", "/api/activities/999999/retry/", everyone(404))]),
    "api/templates/": Entry("inbox", [
        Req("GET", "/api/templates/", everyone(200)),
        Req("POST", "/api/templates/", writers(201), TEMPLATE),
    ]),
    "api/templates/{pk}/": Entry("inbox", [
        Req("GET", "/api/templates/{template}/", everyone(200)),
        Req("PUT", "/api/templates/{template}/", writers(200), TEMPLATE),
        Req("PATCH", "/api/templates/{template}/", writers(200), {"body": "Hey {name}"}),
        Req("DELETE", "/api/templates/{template}/", writers(204)),
    ]),
    "api/templates/{pk}/preview/": Entry("inbox", [
        Req("POST", "/api/templates/{template}/preview/", everyone(200), {"variables": {"name": "Ada"}}),
    ]),
    "api/contacts/": Entry("inbox", [
        Req("GET", "/api/contacts/", everyone(200), hidden_from=OUTSIDERS, hidden="owned_a"),
        Req("GET", "/api/contacts/?owner={rep_a}", everyone(200), hidden_from=OUTSIDERS, hidden="owned_a"),
        Req("POST", "/api/contacts/", everyone(201), {"name": "Matrix Contact"}),
        # a foreign key in the body: only a manager of the owner's team or an admin may name another rep
        Req("POST", "/api/contacts/", {**everyone(400), "rep_a": 201, "admin": 201}, {"name": "Given", "owner": "{rep_a}"}),
    ]),
    "api/contacts/import/": Entry("inbox", [Req("POST", "/api/contacts/import/", everyone(201), {"file": CSV}, multipart=True)]),
    "api/contacts/duplicates/": Entry("inbox", [Req("GET", "/api/contacts/duplicates/", writers(200))]),
    "api/contacts/{pk}/merge/": Entry("inbox", [
        # managers and admins merge, within their scope: the other team's manager does not see rep A's contacts
        Req("POST", "/api/contacts/{contact_a}/merge/", {"anonymous": DENY, "rep_a": 403, "rep_b": 403, "manager_b": 404, "admin": 200},
            {"duplicate": "{owned_a}"}),
    ]),
    "api/contacts/{contact_id}/campaigns/": Entry("campaigns", [Req("GET", "/api/contacts/{contact_a}/campaigns/", scoped())]),
    "api/contacts/{pk}/timeline/": Entry("inbox", [Req("GET", "/api/contacts/{contact_a}/timeline/", scoped())]),
    "api/contacts/{pk}/": Entry("inbox", [
        Req("GET", "/api/contacts/{owned_a}/", scoped()),
        Req("GET", "/api/contacts/{contact_a}/", scoped()),
        Req("PUT", "/api/contacts/{owned_a}/", scoped(), {"name": "Renamed"}),
        Req("PATCH", "/api/contacts/{contact_a}/", scoped(), {"tags": ["hot"]}),
        Req("DELETE", "/api/contacts/{owned_a}/", {**scoped(204), "rep_a": 403}),
    ]),
    # ---- core: schema and docs follow the API's rule (signed in only); the ticket is core's own ----
    "api/schema/": Entry("core", [Req("GET", "/api/schema/", everyone(200))]),
    "api/docs/": Entry("core", [Req("GET", "/api/docs/", everyone(200))]),
    "api/ws-ticket/": Entry("core", [Req("POST", "/api/ws-ticket/", FOREIGN)]),
    "healthz": Entry("core", [Req("GET", "/healthz", {**FOREIGN, "anonymous": frozenset({200, 503})})]),
    # ---- salesreps (another engineer's): anonymous refused, nothing 5xx ----------------------------
    "api/channels/": Entry("salesreps", [Req("GET", "/api/channels/", FOREIGN), Req("POST", "/api/channels/", FOREIGN, {})]),
    "api/channels/{pk}/": Entry("salesreps", [Req("GET", "/api/channels/{channel}/", FOREIGN),
                                              Req("PATCH", "/api/channels/{channel}/", FOREIGN, {})]),
    "api/reps/": Entry("salesreps", [Req("GET", "/api/reps/", FOREIGN)]),
    "api/reps/me/": Entry("salesreps", [Req("GET", "/api/reps/me/", FOREIGN), Req("PATCH", "/api/reps/me/", FOREIGN, {})]),
    "api/reps/{pk}/": Entry("salesreps", [Req("GET", "/api/reps/{rep_a}/", FOREIGN)]),
    "api/reps/{pk}/today/": Entry("salesreps", [Req("GET", "/api/reps/{rep_a}/today/", FOREIGN)]),
    "api/reps/{rep_pk}/channels/": Entry("salesreps", [Req("GET", "/api/reps/{rep_a}/channels/", FOREIGN),
                                                       Req("POST", "/api/reps/{rep_a}/channels/", FOREIGN, {})]),
    "api/reps/{rep_pk}/channels/{pk}/": Entry("salesreps", [
        Req("GET", "/api/reps/{rep_a}/channels/{rep_channel_a}/", FOREIGN),
        Req("PATCH", "/api/reps/{rep_a}/channels/{rep_channel_a}/", FOREIGN, {}),
    ]),
    "api/reps/{rep_pk}/shifts/": Entry("salesreps", [Req("GET", "/api/reps/{rep_a}/shifts/", FOREIGN),
                                                     Req("POST", "/api/reps/{rep_a}/shifts/", FOREIGN, {})]),
    "api/reps/{rep_pk}/schedule/": Entry("salesreps", [
        Req("GET", "/api/reps/{rep_a}/schedule/", scoped()),
        # a rep reads but does not edit their own week; the body's error names the field for those who may
        Req("PUT", "/api/reps/{rep_a}/schedule/", {**scoped(400), "rep_a": 403}, {"timezone": "Mars/Olympus"}),
    ]),
    "api/reps/{rep_pk}/shifts/{pk}/": Entry("salesreps", [Req("GET", "/api/reps/{rep_a}/shifts/1/", FOREIGN),
                                                          # deleting a date override: no such shift, whoever asks
                                                          Req("DELETE", "/api/reps/{rep_a}/shifts/999999/", everyone(404))]),
    # ---- campaigns (another engineer's): anonymous refused, nothing 5xx (no campaign in this world) -------
    "api/campaigns/": Entry("campaigns", [Req("GET", "/api/campaigns/", FOREIGN), Req("POST", "/api/campaigns/", FOREIGN, {})]),
    # the manager console's builder: managers and admins, in their teams (content: test_scope_matrix)
    "api/campaigns/audience/": Entry("campaigns", [
        Req("GET", "/api/campaigns/audience/?tags_any=vip", {**writers(200), "rep_a": 403}),
        Req("GET", "/api/campaigns/audience/?min_score=lots", {**writers(400), "rep_a": 403}),
    ]),
    "api/campaigns/options/": Entry("campaigns", [Req("GET", "/api/campaigns/options/", {**writers(200), "rep_a": 403})]),
    "api/campaigns/{pk}/": Entry("campaigns", [Req("GET", "/api/campaigns/999999/", FOREIGN),
                                               Req("PATCH", "/api/campaigns/999999/", FOREIGN, {}),
                                               Req("DELETE", "/api/campaigns/999999/", FOREIGN)]),
    **{f"api/campaigns/{{pk}}/{verb}/": Entry("campaigns", [Req("POST", f"/api/campaigns/999999/{verb}/", FOREIGN)])
       for verb in ("cancel", "pause", "resume", "start")},
    **{f"api/campaigns/{{pk}}/{view}/": Entry("campaigns", [Req("GET", f"/api/campaigns/999999/{view}/", FOREIGN)])
       for view in ("recipients", "stats")},
    # ---- operator API (admins only; contents: test_operator_pages and webhooks/salesreps tests) -----
    "api/operator/reps/": Entry("salesreps", [Req("GET", "/api/operator/reps/", admins_only(200)),
                                              Req("POST", "/api/operator/reps/", admins_only(400), {})]),
    "api/operator/reps/{rep_id}/": Entry("salesreps", [Req("PATCH", "/api/operator/reps/999999/", admins_only(404), {})]),
    "api/operator/teams/": Entry("salesreps", [Req("GET", "/api/operator/teams/", admins_only(200)),
                                               Req("POST", "/api/operator/teams/", admins_only(400), {})]),
    "api/operator/channels/{channel_id}/rep-channels/": Entry("salesreps", [
        Req("GET", "/api/operator/channels/{channel}/rep-channels/", admins_only(200))]),
    "api/operator/rep-channels/{rep_channel_id}/": Entry("salesreps", [
        Req("PATCH", "/api/operator/rep-channels/999999/", admins_only(404), {})]),
    "api/operator/platforms/": Entry("webhooks", [Req("GET", "/api/operator/platforms/", admins_only(200))]),
    "api/operator/channels/{channel_id}/webhook/": Entry("webhooks", [
        Req("GET", "/api/operator/channels/{channel}/webhook/", admins_only(200)),
        Req("GET", "/api/operator/channels/999999/webhook/", admins_only(404))]),
    "api/operator/channels/{channel_id}/verify-token/": Entry("webhooks", [
        Req("GET", "/api/operator/channels/{channel}/verify-token/", admins_only(405))]),
    # posting the sample goes through the real endpoint over HTTP: test_operator_pages does it
    "api/operator/channels/{channel_id}/test-event/": Entry("webhooks", [
        Req("GET", "/api/operator/channels/{channel}/test-event/", admins_only(405))]),
    "api/operator/channels/{channel_id}/webhook-events/": Entry("webhooks", [
        Req("GET", "/api/operator/channels/{channel}/webhook-events/", admins_only(200)),
        Req("GET", "/api/operator/channels/{channel}/webhook-events/?limit=0", admins_only(400))]),
    "api/operator/webhook-events/{event_id}/redrive/": Entry("webhooks", [
        Req("POST", "/api/operator/webhook-events/999999/redrive/", admins_only(404))]),
    # ---- webhooks: platforms are anonymous by design, refused without a valid signature -------------
    "webhooks/{platform}/": Entry("webhooks", [
        Req("POST", "/webhooks/service/", {**FOREIGN, "anonymous": frozenset({400, 401, 403})}, {"event": "x"}),
        Req("POST", "/webhooks/nosuchplatform/", {**FOREIGN, "anonymous": 404}, {}),
    ]),
    # ---- frontend pages: the session login is open, the rest sends anonymous users to it ------------
    "login/": Entry("frontend", [Req("GET", "/login/", {**FOREIGN, "anonymous": 200})]),
    "logout/": Entry("frontend", [Req("POST", "/logout/", {**FOREIGN, "anonymous": frozenset({200, 302})})]),
    "api/dashboard/": Entry("frontend", [Req("GET", "/api/dashboard/", FOREIGN)]),
    "dashboard/": Entry("frontend", [Req("GET", "/dashboard/", {**FOREIGN, "anonymous": 302})]),
    "": Entry("frontend", [Req("GET", "/", {**FOREIGN, "anonymous": 302})]),
    "operator/": Entry("frontend", [Req("GET", "/operator/", {**admins_only(302), "anonymous": 302})]),
    "operator/channels/": Entry("frontend", [Req("GET", "/operator/channels/", {**admins_only(200), "anonymous": 302})]),
    "operator/channels/{channel_id}/": Entry("frontend", [
        Req("GET", "/operator/channels/{channel}/", {**admins_only(200), "anonymous": 302}),
        Req("GET", "/operator/channels/999999/", {**admins_only(404), "anonymous": 302})]),
    "operator/people/": Entry("frontend", [Req("GET", "/operator/people/", {**admins_only(200), "anonymous": 302})]),
    "operator/templates/": Entry("frontend", [Req("GET", "/operator/templates/", {**admins_only(200), "anonymous": 302})]),
}
# Django's admin site: its many routes are guarded by the admin itself (staff only); one entry covers the prefix.
PREFIXES: dict[str, Entry] = {
    "admin/": Entry("django.contrib.admin", [
        Req("GET", "/admin/", {**FOREIGN, "anonymous": 302}),
        Req("GET", "/admin/inbox/contact/", {**FOREIGN, "anonymous": 302}),
    ]),
}


def normalize(route: str) -> str:
    """One spelling for path() and re_path()/router routes: api/conversations/{pk}/assign/."""
    route = re.sub(r"\(\?P<(\w+)>[^()]*\)", r"{\1}", route)
    route = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
    return route.replace("^", "").replace("$", "").replace("\\Z", "")


def all_routes() -> set[str]:
    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield normalize(prefix + str(pattern.pattern))

    return set(walk(get_resolver().url_patterns))


def covered(route: str) -> bool:
    return route in MATRIX or any(route.startswith(prefix) for prefix in PREFIXES)


def test_every_route_has_a_matrix_entry():
    missing = sorted(r for r in all_routes() if not covered(r))
    assert not missing, f"routes without an authorization-matrix entry (add them to MATRIX): {missing}"


def test_every_matrix_entry_is_a_live_route():
    stale = sorted(set(MATRIX) - all_routes())
    assert not stale, f"matrix entries for routes that no longer exist: {stale}"


def test_every_cell_names_every_role():
    for key, entry in {**MATRIX, **PREFIXES}.items():
        assert entry.requests, key
        for req in entry.requests:
            assert set(req.expect) == set(ROLES), (key, req.method, req.path)


def _ids(world) -> dict:
    return {"conv_a": world.conv_a.id, "contact_a": world.conv_a.contact_id, "owned_a": world.owned_a.id,
            "failed_a": world.failed_a.id, "msg_a": world.msg_a.id, "template": world.template.id,
            "rep_a": world.rep_a.id, "rep_b": world.rep_b.id, "rep_c": world.conv_team_b.rep_id,
            "channel": world.channel.id, "rep_channel_a": world.rep_channel_a.id}


def _fill(value, ids: dict):
    """"{rep_a}" in a body becomes rep A's id; any other text is sent as written."""
    if isinstance(value, str):
        placeholder = re.fullmatch(r"\{(\w+)\}", value)
        return ids[placeholder.group(1)] if placeholder and placeholder.group(1) in ids else value
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


def _call(client, req: Req, ids: dict):
    path = req.path.format(**ids)
    if req.multipart:
        files = {k: SimpleUploadedFile("contacts.csv", v.encode(), "text/csv") for k, v in req.body.items()}
        return path, client.post(path, files)
    if req.body is None:
        return path, client.generic(req.method, path)
    return path, client.generic(req.method, path, json.dumps(_fill(req.body, ids)), content_type="application/json")


def _check(status: int, expected) -> bool:
    if expected == NOT_5XX:
        return status < 500
    if isinstance(expected, frozenset):
        return status in expected
    return status == expected


@pytest.mark.parametrize("key", sorted(MATRIX) + sorted(PREFIXES))
def test_matrix(key, world, client_for):
    entry = MATRIX.get(key) or PREFIXES[key]
    ids = _ids(world)
    users = {"anonymous": None, **world.users()}
    clients = {role: client_for(users[role]) for role in ROLES}
    failures = []
    for req in entry.requests:
        path = req.path.format(**ids)
        route = normalize(str(resolve(path.split("?")[0]).route))
        assert route == key or key in PREFIXES, f"{path} resolves to {route!r}, not to the entry {key!r}"
        for role in ROLES:
            with transaction.atomic():
                _, response = _call(clients[role], req, ids)
                transaction.set_rollback(True)
            expected = req.expect[role]
            if not _check(response.status_code, expected):
                failures.append(f"{role:9} {req.method} {path}: got {response.status_code}, expected {expected}"
                                f" — {response.content[:200]!r}")
                continue
            if role in req.hidden_from and response.status_code == 200:
                leaked = ids[req.hidden] in {item["id"] for item in response.json()["results"]}
                if leaked:
                    failures.append(f"{role:9} {req.method} {path}: the list shows rep A's {req.hidden}")
    assert not failures, f"[{entry.owner}] " + "\n".join(failures)
