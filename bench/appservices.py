"""Benchmarks of app services still being written: campaign expansion, the conversation list
(the outbound dispatch scenarios are in bench/sends.py). Each imports the app's own code; when
that import fails the row says "not yet available: <error>" and the run goes on."""
from __future__ import annotations

import asyncio
import importlib
import inspect
import time
from datetime import timedelta

from bench.config import Ctx
from bench.load import HttpPool, http_request, summary
from bench.seed import WORK_HOURS, insert_select

DISPATCH = ["inbox.services.outbound.dispatch_due_messages"]
FANOUT = 300  # seconds of a full run kept for the fan-out phase, which runs after these
# Starting a draft campaign is the expansion: validation, audience, windows, spreading, queueing.
EXPAND = ["campaigns.services.campaigns.campaign_start"]


def locate(paths: list[str]):
    errors = []
    for path in paths:
        module, _, attr = path.rpartition(".")
        try:
            return getattr(importlib.import_module(module), attr)
        except ImportError as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        except AttributeError:
            errors.append(f"ImportError: cannot import name {attr!r} from {module!r}")
    also = f" (also looked for {', '.join(paths[1:])})" if len(paths) > 1 else ""
    raise ImportError(errors[0] + also)


def _closing(fn):
    def run(*args, **kwargs):
        from django.db import connection

        try:
            return fn(*args, **kwargs)
        finally:
            connection.close()
    return run


@_closing
def sandbox_channel(ctx: Ctx, reps: int, capacity: int):
    """A sandboxed service channel with one rep-channel (and its `message` activity) per rep."""
    from salesreps.models import Channel, ChannelActivity, SalesRepChannel, SalesRepChannelActivity

    channel = Channel.objects.filter(name="Bench sandbox").first()
    if channel:
        return channel
    channel = Channel.objects.create(name="Bench sandbox", kind="service", routing_key="bench-sandbox",
                                     internal_url="http://127.0.0.1:9", config={"name": "Bench sandbox"},
                                     secrets={"secret": "bench-service-secret"})
    activity = ChannelActivity.objects.create(channel=channel, name="message")
    rcs = SalesRepChannel.objects.bulk_create([
        SalesRepChannel(rep_id=rep_id, channel=channel, sandbox=True, start_time=WORK_HOURS[0], end_time=WORK_HOURS[1],
                        timezone="UTC", max_daily_capacity=capacity) for rep_id in ctx.world.rep_ids[:reps]], batch_size=2000)
    SalesRepChannelActivity.objects.bulk_create([SalesRepChannelActivity(rep_channel=rc, activity=activity) for rc in rcs],
                                                batch_size=2000)
    return channel


@_closing
def _seed_contacts(n: int, tag: str, channel_id: int) -> tuple[int, int]:
    """n contacts over five zones, a third with allowed hours, tagged; an identity each on the channel."""
    from django.db import connection

    from inbox.models import Contact, ContactIdentity

    insert_select(Contact, n, {
        "name": "'Bench ' || g", "phone": "'+4917' || lpad(g::text, 9, '0')", "tags": ("ARRAY[%s]::varchar(50)[]", [tag]),
        "timezone": "(ARRAY['UTC','Europe/Berlin','America/New_York','Asia/Tokyo','Australia/Sydney'])[1 + mod(g, 5)]",
        "allowed_start": "CASE WHEN mod(g, 3) = 0 THEN time '09:00' END", "allowed_end": "CASE WHEN mod(g, 3) = 0 THEN time '18:00' END",
        "lead_score": "mod(g, 100)",
    })
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM inbox_contact WHERE tags @> ARRAY[%s]::varchar(50)[]", [tag])
        first, last = cursor.fetchone()
    if last - first + 1 != n:
        raise RuntimeError("seeded contact ids are not contiguous")
    insert_select(ContactIdentity, n, {"contact_id": f"{first} + g", "channel_id": str(channel_id),
                                       "external_id": ("'svc-' || %s || '-' || g", [tag])})
    return first, last


@_closing
def _expand(ctx: Ctx, fn) -> dict:
    from django.db.models import Count
    from django.utils import timezone

    from campaigns.models import Campaign, CampaignRecipient

    s = ctx.sizes
    channel = sandbox_channel(ctx, s.dispatch_rep_channels, s.dispatch_capacity)
    t_seed = time.monotonic()
    _seed_contacts(s.campaign_contacts, "bench-campaign", channel.id)
    seed_s = time.monotonic() - t_seed
    start = timezone.now().replace(microsecond=0)
    campaign = Campaign.objects.create(name="Bench campaign", channel=channel, text="Hello from the bench",
                                       audience={"tags_any": ["bench-campaign"]}, start_at=start,
                                       end_at=start + timedelta(days=2), status="draft")
    accepted = inspect.signature(fn).parameters
    kwargs = {"campaign": campaign} if "campaign" in accepted else {"campaign_id": campaign.id}
    t0 = time.monotonic()
    fn(**kwargs)
    seconds = time.monotonic() - t0
    states = dict(CampaignRecipient.objects.filter(campaign=campaign).values_list("state").annotate(n=Count("id")))
    return {"seconds": round(seconds, 3), "recipients": sum(states.values()), "scheduled": states.get("scheduled", 0),
            "skipped": states.get("skipped", 0), "contacts_per_s": round(s.campaign_contacts / seconds, 1),
            "seed_s": round(seed_s, 2)}


async def campaign(ctx: Ctx) -> None:
    params = {"contacts": ctx.sizes.campaign_contacts, "zones": 5, "with_allowed_hours": "1 in 3"}
    name = f"campaign expansion of {ctx.sizes.campaign_contacts} contacts"
    try:
        fn = locate(EXPAND)
    except ImportError as exc:
        ctx.skip("app.campaign", name, params, "unavailable", f"not yet available: {exc}")
        return
    if ctx.spare(FANOUT + 90) < 0:
        ctx.skip("app.campaign", name, params, "skipped", "time budget of the run is used up")
        return
    ctx.add("app.campaign", name, params, await asyncio.to_thread(_expand, ctx, fn))


@_closing
def _seed_conversations(ctx: Ctx) -> dict:
    """N conversations with M messages each; one rep owns `convlist_rep_share` of them, another 10."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from inbox.models import Conversation, Message
    from salesreps.models import SalesRep

    s, world = ctx.sizes, ctx.world
    n, per = s.convlist_conversations, s.convlist_messages_per
    users = get_user_model().objects.bulk_create([get_user_model()(username=f"bench-list-{i}", password="!") for i in (0, 1)])
    big, small = (SalesRep.objects.create(user=u, full_name=f"List rep {i}") for i, u in enumerate(users))
    first, _ = _seed_contacts(n, "bench-list", world.channel_id)
    others = world.rep_ids[:100] or [small.id]
    insert_select(Conversation, n, {
        "contact_id": f"{first} + g", "channel_id": str(world.channel_id), "status": "'open'",
        "rep_id": (f"CASE WHEN g < {s.convlist_rep_share} THEN {big.id} WHEN g < {s.convlist_rep_share + 10} THEN {small.id}"
                   f" ELSE (ARRAY{others})[1 + mod(g, {len(others)})] END"),
        "last_message_at": "now() - g * interval '1 minute'", "last_message_preview": "'message ' || g",
        "unread_count": "mod(g, 3)",
    })
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM inbox_conversation WHERE contact_id >= %s", [first])
        c0, c1 = cursor.fetchone()
    if c1 - c0 + 1 != n:
        raise RuntimeError("seeded conversation ids are not contiguous")
    insert_select(Message, n * per, {
        "conversation_id": f"{c0} + g / {per}", "channel_id": str(world.channel_id),
        "direction": "CASE WHEN mod(g, 2) = 0 THEN 'in' ELSE 'out' END",
        "status": "CASE WHEN mod(g, 2) = 0 THEN 'received' ELSE 'sent' END", "body": "'message ' || g",
        "created_at": "now() - g * interval '1 second'",
    })
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE inbox_conversation; ANALYZE inbox_message; ANALYZE inbox_contact")
    return {"big": users[0], "small": users[1], "token": Token.objects.create(user=users[0]).key}


@_closing
def _query_counts(url: str, users: list) -> list[int]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    counts = []
    for user in users:
        client = Client()
        client.force_login(user)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code} in-process")
        counts.append(len(queries))
    return counts


async def conversation_list(ctx: Ctx) -> None:
    s = ctx.sizes
    params = {"conversations": s.convlist_conversations, "messages": s.convlist_conversations * s.convlist_messages_per,
              "rep_conversations": s.convlist_rep_share, "requests": s.convlist_requests}
    name = "a rep's conversation list"
    try:
        from django.urls import NoReverseMatch, reverse

        importlib.import_module("inbox.api")
        try:
            url = reverse("conversation-list")
        except NoReverseMatch as exc:
            raise ImportError(f"NoReverseMatch: {exc}") from None
    except ImportError as exc:
        ctx.skip("app.convlist", name, params, "unavailable", f"not yet available: {exc}")
        return
    if ctx.spare(FANOUT + 150) < 0:
        ctx.skip("app.convlist", name, params, "skipped", "time budget of the run is used up")
        return
    from bench.scenarios import start_app

    t_seed = time.monotonic()
    seeded, (_, port) = await asyncio.gather(asyncio.to_thread(_seed_conversations, ctx), start_app(ctx))
    seed_s = time.monotonic() - t_seed
    counts = await asyncio.to_thread(_query_counts, url, [seeded["big"], seeded["small"]])
    try:
        latencies, failed = await _requests(port, url, seeded["token"], s.convlist_requests)
    finally:
        ctx.procs.pop("app").stop()
        if ctx.procs.get("app-worker"):
            ctx.procs.pop("app-worker").stop()
    ctx.add("app.convlist", name, params, {**summary(latencies), "failed": failed, "queries_big_rep": counts[0],
                                           "queries_small_rep": counts[1], "seed_s": round(seed_s, 1)},
            status="ok" if not failed else "error", note="" if not failed else f"{failed} requests did not answer 200")


async def _requests(port: int, url: str, token: str, n: int) -> tuple[list[float], int]:
    pool = HttpPool(port)
    raw = http_request("GET", url, port, headers={"Authorization": f"Token {token}"})
    latencies, failed = [], 0
    for _ in range(n):
        status, t0, t1 = await pool.request(raw)
        if status == 200:
            latencies.append(t1 - t0)
        else:
            failed += 1
    pool.close()
    return latencies, failed
