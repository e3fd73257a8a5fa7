"""The benchmark's own database (`switchboard_bench` on the embedded server) and its data.

Small tables go through Django's bulk_create; the large ones (100k contacts, 1M messages)
through one INSERT … SELECT over generate_series, whose column list comes from the model so
a new column with a Python default does not break seeding.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from datetime import time as dtime
from datetime import timedelta
from functools import cached_property
from urllib.parse import urlsplit, urlunsplit

import psycopg

WA_PNID = "990001"  # the bench channel's phone_number_id
WA_SECRET = "bench-app-secret"


def database_url(base_url: str, name: str) -> str:
    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _admin_conninfo(url: str) -> dict:
    import dj_database_url

    db = dj_database_url.parse(url)
    info = {"dbname": "postgres", "user": db["USER"] or "postgres", "host": db["HOST"] or None}
    if db.get("PORT"):
        info["port"] = db["PORT"]
    if db.get("PASSWORD"):
        info["password"] = db["PASSWORD"]
    return info


def create_database(url: str, *, drop: bool = False) -> None:
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(**_admin_conninfo(url), autocommit=True) as conn:
        if drop:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname=%s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def prepare_schema(url: str) -> dict:
    """Migrate (first run, or new migrations) or else empty every table; recreate the database if
    its migration history no longer matches the code. Returns what was done and how long it took."""
    import time

    from django.core.management import call_command
    from django.db import connection, connections
    from django.db.migrations.executor import MigrationExecutor

    t0 = time.monotonic()
    create_database(url)
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        action = "migrated, flushed" if plan else "flushed"
        if plan:
            call_command("migrate", interactive=False, verbosity=0)
        call_command("flush", interactive=False, verbosity=0)
    except Exception:  # history from an older layout of the migrations: start over
        connections.close_all()
        create_database(url, drop=True)
        call_command("migrate", interactive=False, verbosity=0)
        action = "recreated"
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_raw_insert (id bigserial PRIMARY KEY, body text NOT NULL,"
                       " created_at timestamptz NOT NULL DEFAULT now())")
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_tutorial_message (id bigserial PRIMARY KEY,"
                       " sender varchar(64) NOT NULL, body text NOT NULL, created_at timestamptz NOT NULL)")
        cursor.execute("TRUNCATE bench_raw_insert, bench_tutorial_message")
    return {"schema": action, "schema_s": round(time.monotonic() - t0, 2)}


def insert_select(model, count: int, exprs: dict[str, str | tuple[str, list]]) -> None:
    """INSERT count rows of model; `exprs` maps column to SQL over `g` (0..count-1), or to (SQL, params);
    every other column gets the field's default, so the statement follows the model's columns."""
    from django.db import connection

    columns, values, args = [], [], []
    for f in model._meta.concrete_fields:
        if f.primary_key and f.column not in exprs:
            continue
        columns.append(f'"{f.column}"')
        if f.column in exprs:
            sql, params = exprs[f.column] if isinstance(exprs[f.column], tuple) else (exprs[f.column], [])
            values.append(sql)
            args.extend(params)
            continue
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            values.append("now()")
            continue
        default = f.get_default() if f.has_default() else None
        if default is None and not f.null:
            default = "" if f.get_internal_type() in ("CharField", "TextField", "EmailField", "SlugField") else default
        values.append("%s")
        args.append(f.get_db_prep_save(default, connection))
    sql = (f'INSERT INTO "{model._meta.db_table}" ({", ".join(columns)}) '
           f"SELECT {', '.join(values)} FROM generate_series(0, %s) AS g")
    with connection.cursor() as cursor:
        cursor.execute(sql, args + [count - 1])


@dataclass
class World:
    channel_id: int
    rep_users: list[int] = field(default_factory=list)  # user id of rep i, team by team
    rep_ids: list[int] = field(default_factory=list)
    wa_ids: list[str] = field(default_factory=list)  # contact of rep i (assigned conversation)
    manager_users: list[int] = field(default_factory=list)  # the fan-out team's managers
    team_id: int = 0  # the fan-out team
    team_wa_id: str = ""
    team_size: int = 1  # reps per team of the rep ladder
    team_managers: list[list[int]] = field(default_factory=list)  # manager user ids of rep team t
    admin_user: int = 0

    def socket_users(self, n: int) -> list[int]:
        """The first n users of a real audience: the admin, then team by team its reps and its managers
        (so every rep whose socket is open has its managers' and the admin's sockets open too)."""
        out = [self.admin_user]
        for t, managers in enumerate(self.team_managers):
            if len(out) >= n:
                break
            out += self.rep_users[t * self.team_size:(t + 1) * self.team_size] + managers
        return out[:n]

    def audience(self, rep_user: int) -> frozenset[int]:
        """Users other than the rep who are shown the rep's events: the team's managers and the admin."""
        return frozenset([self.admin_user, *self.team_managers[self.rep_index[rep_user] // self.team_size]])

    @cached_property
    def rep_index(self) -> dict[int, int]:
        return {u: i for i, u in enumerate(self.rep_users)}


def wa_id(i: int) -> str:
    return f"49151{i:08d}"


def seed_people(*, reps: int, managers: int, team_size: int = 20, team_managers: int = 2) -> World:
    """The audience a real team has: reps (one WhatsApp conversation each, assigned to them) in teams
    of team_size with team_managers managers each, one admin (superuser); and a fan-out team of
    `managers` managers with one rep."""
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from inbox.models import Contact, ContactIdentity, Conversation
    from salesreps.models import Channel, ChannelActivity, SalesRep, Team

    User = get_user_model()
    teams_n = -(-reps // team_size)
    with transaction.atomic():
        channel = Channel.objects.create(name="Bench WhatsApp", kind="whatsapp", routing_key=WA_PNID,
                                         config={"phone_number_id": WA_PNID}, secrets={"app_secret": WA_SECRET})
        ChannelActivity.objects.create(channel=channel, name="message")
        team = Team.objects.create(name="Bench team")
        rep_teams = Team.objects.bulk_create([Team(name=f"Bench rep team {t}") for t in range(teams_n)], batch_size=2000)
        admin = User.objects.create(username="bench-admin", password="!", is_superuser=True, is_staff=True)
        users = User.objects.bulk_create([User(username=f"bench-rep-{i}", password="!") for i in range(reps + 1)],
                                         batch_size=2000)
        people = [SalesRep(user=u, full_name=f"Rep {i}", team=rep_teams[i // team_size]) for i, u in enumerate(users[:reps])]
        people.append(SalesRep(user=users[reps], full_name="Team rep", team=team))
        people = SalesRep.objects.bulk_create(people, batch_size=2000)
        tusers = User.objects.bulk_create([User(username=f"bench-team-manager-{t}-{k}", password="!")
                                           for t in range(teams_n) for k in range(team_managers)], batch_size=2000)
        SalesRep.objects.bulk_create([SalesRep(user=u, full_name=f"Team manager {j}", team=rep_teams[j // team_managers],
                                               role="manager") for j, u in enumerate(tusers)], batch_size=2000)
        musers = User.objects.bulk_create([User(username=f"bench-manager-{i}", password="!") for i in range(managers)],
                                          batch_size=2000)
        SalesRep.objects.bulk_create([SalesRep(user=u, full_name=f"Manager {i}", team=team, role="manager")
                                      for i, u in enumerate(musers)], batch_size=2000)
        ids = [wa_id(i) for i in range(reps + 1)]
        contacts = Contact.objects.bulk_create([Contact(name=f"Contact {i}", phone=f"+{w}") for i, w in enumerate(ids)],
                                               batch_size=2000)
        ContactIdentity.objects.bulk_create([ContactIdentity(contact=c, channel=channel, external_id=w)
                                             for c, w in zip(contacts, ids, strict=True)], batch_size=2000)
        stamp = timezone.now() - timedelta(hours=1)
        Conversation.objects.bulk_create([Conversation(contact=c, channel=channel, rep=r, last_message_at=stamp)
                                          for c, r in zip(contacts, people, strict=True)], batch_size=2000)
    tids = [u.id for u in tusers]
    return World(channel_id=channel.id, rep_users=[u.id for u in users[:reps]], rep_ids=[p.id for p in people[:reps]],
                 wa_ids=ids[:reps], manager_users=[u.id for u in musers], team_id=team.id, team_wa_id=ids[reps],
                 team_size=team_size, team_managers=[tids[t * team_managers:(t + 1) * team_managers] for t in range(teams_n)],
                 admin_user=admin.id)


def issue_tickets(user_ids: list[int]) -> list[str]:
    """Single-use tickets through the app's own ticket_issue (valid WS_TICKET_TTL_SECONDS)."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from core.ws_auth import ticket_issue

    User = get_user_model()
    try:
        return [ticket_issue(user=User(pk=uid)).key for uid in user_ids]
    finally:
        connection.close()


def whatsapp_webhook(*, wa: str, text: str, message_id: str, ts: int, port: int) -> bytes:
    """A WhatsApp Cloud API `messages` webhook, signed like Meta signs it, as raw HTTP/1.1 bytes."""
    payload = {"object": "whatsapp_business_account", "entry": [{"id": "bench-waba", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550009999", "phone_number_id": WA_PNID},
        "contacts": [{"profile": {"name": f"Contact {int(wa[5:])}"}, "wa_id": wa}],
        "messages": [{"from": wa, "id": message_id, "timestamp": str(ts), "type": "text", "text": {"body": text}}]}}]}]}
    return _signed(payload, port)


def _signed(payload: dict, port: int) -> bytes:
    from bench.load import http_request

    body = json.dumps(payload, separators=(",", ":")).encode()
    signature = "sha256=" + hmac.new(WA_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return http_request("POST", "/webhooks/whatsapp/", port, body,
                        {"Content-Type": "application/json", "X-Hub-Signature-256": signature})


def whatsapp_status_webhook(*, external_id: str, status: str, recipient: str, ts: int, port: int) -> bytes:
    """A WhatsApp Cloud API status webhook shaped like platforms/tests/fixtures/whatsapp/status__*.json
    (conversation and pricing on sent and delivered, not on read), signed like Meta signs it."""
    item = {"id": external_id, "status": status, "timestamp": str(ts), "recipient_id": recipient}
    if status in ("sent", "delivered"):
        conversation = {"id": hashlib.md5(recipient.encode()).hexdigest(), "origin": {"type": "marketing"}}
        if status == "sent":
            conversation["expiration_timestamp"] = str(ts + 86400)
        item.update(conversation=conversation, pricing={"billable": True, "pricing_model": "CBP", "category": "marketing"})
    payload = {"object": "whatsapp_business_account", "entry": [{"id": "bench-waba", "changes": [{"value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550009999", "phone_number_id": WA_PNID},
        "statuses": [item]}, "field": "messages"}]}]}
    return _signed(payload, port)


def seed_sent_messages(*, conversations: list[tuple[int, str]], count: int, tag: str) -> tuple[int, int, str]:
    """count outbound WhatsApp messages in state `sent` with external ids `wamid.bst<tag>.<g>`, spread
    round robin over (conversation id, contact wa_id), in one INSERT … SELECT; returns their id range
    and the external-id prefix."""
    from django.db import connection
    from django.utils import timezone

    from inbox.models import Message
    from salesreps.models import Channel

    channel_id = Channel.objects.get(routing_key=WA_PNID, kind="whatsapp").id
    prefix = f"wamid.bst{tag}."
    ids = [c for c, _ in conversations]
    insert_select(Message, count, {
        "conversation_id": ("(%s::bigint[])[1 + mod(g, %s)]", [ids, len(ids)]), "channel_id": str(channel_id),
        "direction": "'out'", "status": "'sent'", "kind": "'text'", "body": "'bench campaign message ' || g",
        "external_id": ("%s || g", [prefix]), "sent_at": ("%s", [timezone.now()]), "status_at": ("%s", [timezone.now()]),
    })
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id), count(*) FROM inbox_message WHERE channel_id = %s AND external_id LIKE %s",
                       [channel_id, prefix + "%"])
        first, last, n = cursor.fetchone()
    if n != count or last - first + 1 != count:
        raise RuntimeError(f"seeded {n} messages over ids {first}..{last}, expected {count} contiguous")
    return first, last, prefix


def run_tag() -> str:
    return secrets.token_hex(3)


WORK_HOURS = (dtime(0, 0), dtime(23, 59))
