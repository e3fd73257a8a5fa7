"""Issue #16's outbound benchmarks, each judged from the database and the ledger, never from the
app's own counters:

1. sandbox dispatch: queued replies on `dispatch_rep_channels` sandboxed rep-channels of a
   service channel with every rule that applies to it in play (capacity that binds for the last
   messages of each rep-channel, channel rate limits that are counted but never bind, quiet
   hours), pacing off; 2 bench workers woken with `dispatch_due` until nothing is due.
2. loopback provider: the same on a non-sandbox WhatsApp channel whose `api_base_url` is a real
   HTTP server on 127.0.0.1 (bench/loopback.py) answering every send after 100 ms; the server
   counts requests per message.
3. paced campaign: a manager's campaign (template, audience by tag, daily cap) created, started
   and — after capacity cuts on some rep-channels — sent by 2 workers with pacing on
   (SEND_MIN_GAP_MS / SEND_JITTER_MS short enough for a bench) for a bounded window, then
   cancelled; pacing gaps, capacities and the daily cap are checked from the ledger.

Between scenarios, outbound messages still waiting from the previous one are withdrawn
(status cancelled, defer_code bench_withdrawn), so one scenario's workers never send another's.
"""
from __future__ import annotations

import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta

from bench.appservices import DISPATCH, FANOUT, _closing, locate
from bench.config import Ctx
from bench.procs import CpuWatch, start_celery, wait_celery
from bench.seed import WORK_HOURS

SENT = ("sent", "delivered", "read")
CAPACITY_CODES = ("activity_cap", "warmup")
PACING_OFF = {"SEND_MIN_GAP_MS": "0", "SEND_JITTER_MS": "0", "REPLY_GAP_MS": "0"}
LOOPBACK_PNID, PACED_PNID = "990020", "990030"
LOOPBACK_TOKEN = "bench-loopback-token"
WORKERS = 2


# ---- seeding ---------------------------------------------------------------------------------


@_closing
def _channel_with_reps(*, name: str, pnid: str, rep_ids: list[int], capacity: int, sandbox: bool, config: dict | None = None,
                       secrets: dict | None = None, rate_limits: tuple[int | None, int | None] = (None, None)) -> tuple[int, list[int]]:
    """A WhatsApp channel with a `message` activity, and one rep-channel (with that activity) per rep,
    working WORK_HOURS in UTC with `capacity` sends a day. Returns (channel id, rep-channel ids)."""
    from salesreps.models import Channel, ChannelActivity, SalesRepChannel, SalesRepChannelActivity

    channel = Channel.objects.create(name=name, kind="whatsapp", routing_key=pnid, config={"phone_number_id": pnid, **(config or {})},
                                     secrets=secrets or {"app_secret": f"{name}-secret"}, rate_limit_per_hour=rate_limits[0],
                                     rate_limit_per_day=rate_limits[1])
    activity = ChannelActivity.objects.create(channel=channel, name="message")
    rcs = SalesRepChannel.objects.bulk_create([
        SalesRepChannel(rep_id=rep_id, channel=channel, sandbox=sandbox, start_time=WORK_HOURS[0], end_time=WORK_HOURS[1],
                        timezone="UTC", max_daily_capacity=capacity) for rep_id in rep_ids], batch_size=2000)
    SalesRepChannelActivity.objects.bulk_create([SalesRepChannelActivity(rep_channel=rc, activity=activity) for rc in rcs],
                                                batch_size=2000)
    return channel.id, [rc.id for rc in rcs]


@_closing
def _seed_replies(*, channel_id: int, rep_ids: list[int], per: int, wa_prefix: str, label: str, quiet_share: int = 0) -> int:
    """Per rep one contact (phone, WhatsApp identity) whose conversation with the rep had an inbound
    message 2 hours ago (inside the 24-hour window), and `per` queued replies each, due now, in
    round-robin order over the reps (as 1,000 reps composing at once queue them). Every reply's body
    is unique. With quiet_share n, every n-th contact has quiet hours, later today, not now."""
    from django.utils import timezone

    from inbox.models import Contact, ContactIdentity, Conversation, Message

    now = timezone.now()
    inbound_at = now - timedelta(hours=2)
    quiet = ((now + timedelta(hours=6)).time().replace(second=0, microsecond=0),
             (now + timedelta(hours=9)).time().replace(second=0, microsecond=0))
    was = [f"{wa_prefix}{i:08d}" for i in range(len(rep_ids))]
    contacts = Contact.objects.bulk_create([
        Contact(name=f"{label} {i}", phone=f"+{wa}", timezone="UTC", last_inbound_at=inbound_at,
                **({"quiet_start": quiet[0], "quiet_end": quiet[1]} if quiet_share and i % quiet_share == 0 else {}))
        for i, wa in enumerate(was)], batch_size=2000)
    ContactIdentity.objects.bulk_create([ContactIdentity(contact=c, channel_id=channel_id, external_id=wa)
                                         for c, wa in zip(contacts, was, strict=True)], batch_size=2000)
    conversations = Conversation.objects.bulk_create([
        Conversation(contact=c, channel_id=channel_id, rep_id=r, last_inbound_at=inbound_at, last_message_at=inbound_at,
                     last_message_preview="hello, is this still available?")
        for c, r in zip(contacts, rep_ids, strict=True)], batch_size=2000)
    Message.objects.bulk_create([Message(conversation=conv, channel_id=channel_id, direction="in", status="received",
                                         body="hello, is this still available?", external_id=f"wamid.in.{label}.{conv.id}")
                                 for conv in conversations], batch_size=2000)
    due = now - timedelta(seconds=1)
    Message.objects.bulk_create([
        Message(conversation=conv, channel_id=channel_id, direction="out", status="queued", sender_id=conv.rep_id,
                body=f"bench {label} reply {conv.id}-{k}", due_at=due, idempotency_key=f"bench-{label}-{conv.id}-{k}")
        for k in range(per) for conv in conversations], batch_size=5000)
    return len(conversations) * per


# ---- between scenarios -----------------------------------------------------------------------


@_closing
def _withdraw_waiting() -> int:
    from inbox.models import Message

    return Message.objects.filter(direction="out", status__in=["queued", "deferred"]).update(
        status="cancelled", due_at=None, lease_until=None, defer_code="bench_withdrawn",
        defer_reason="withdrawn by the bench before its next scenario")


@_closing
def _in_flight() -> int:
    from django.utils import timezone

    from inbox.models import Message

    return Message.objects.filter(direction="out", status="sending", needs_reconciliation=False,
                                  lease_until__gt=timezone.now()).count()


async def quiesce(ctx: Ctx, label: str, wait_s: float = 30) -> None:
    """Withdraw what earlier scenarios left waiting; wait (bounded) for messages a worker still holds."""
    withdrawn = await asyncio.to_thread(_withdraw_waiting)
    deadline = time.monotonic() + wait_s
    held = await asyncio.to_thread(_in_flight)
    while held and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        held = await asyncio.to_thread(_in_flight)
    ctx.meta.setdefault("withdrawn_before", {})[label] = withdrawn
    if held:
        ctx.meta.setdefault("still_held_before", {})[label] = held


# ---- running the workers ---------------------------------------------------------------------


def _broker():
    import redis
    from django.conf import settings

    return redis.Redis.from_url(settings.CELERY_BROKER_URL), settings.CELERY_TASK_DEFAULT_QUEUE


def _wake(broker, queue: str) -> None:
    from inbox.tasks import dispatch_due

    if broker.llen(queue) < WORKERS:  # a dispatch_due waits for every worker, no pile of them
        dispatch_due.delay()


@_closing
def _progress(channel_id: int) -> tuple[int, int]:
    """(messages still due now — queued, deferred or sending with a due time passed —, messages sent)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE status IN ('queued', 'deferred', 'sending') AND due_at <= now()),"
            "       count(*) FILTER (WHERE status IN ('sent', 'delivered', 'read'))"
            "  FROM inbox_message WHERE channel_id = %s AND direction = 'out'", [channel_id])
        return cursor.fetchone()


async def drain(ctx: Ctx, channel_id: int, cap_s: float, workers: dict) -> dict:
    """Wake the workers until none of the channel's messages is due (or cap_s ran out), sampling how
    many are sent; the rates come from those samples (the harness's monotonic clock)."""
    broker, queue = _broker()
    cpu = CpuWatch(workers).start()
    interval = 0.2 if ctx.smoke else 0.5
    samples: list[tuple[float, int]] = []
    t0, waiting = time.monotonic(), -1
    limit = min(cap_s, max(10, ctx.spare(FANOUT + 30)))
    while time.monotonic() - t0 < limit:
        _wake(broker, queue)
        waiting, sent = await asyncio.to_thread(_progress, channel_id)
        samples.append((time.monotonic() - t0, sent))
        if waiting == 0:
            break
        await asyncio.sleep(interval)
    wall = time.monotonic() - t0
    figures = cpu.stop()
    sent = samples[-1][1] if samples else 0
    if sent:  # CPU per send of each process: what bounds the rate on 2 cores
        figures |= {f"cpu_us_per_send_{name}": round(1e6 * used / sent) for name, used in cpu.seconds.items()}
    return {"samples": samples, "seconds": wall, "still_due": waiting, "cpu": figures, "cap_s": limit}


def steady_rate(samples: list[tuple[float, int]], lo: float = 0.1, hi: float = 0.9) -> float:
    """Sends per second between the samples where lo and hi of the final count were first reached:
    the rate once the workers run, without their start-up and the last stragglers."""
    if not samples or samples[-1][1] <= 0:
        return 0.0
    final = samples[-1][1]
    first = next(s for s in samples if s[1] >= lo * final)
    last = next(s for s in samples if s[1] >= hi * final)
    if last[0] <= first[0]:
        return overall_rate(samples)
    return (last[1] - first[1]) / (last[0] - first[0])


def overall_rate(samples: list[tuple[float, int]]) -> float:
    """Sends per second from the first wake to the sample that first saw the final count."""
    if not samples or samples[-1][1] <= 0:
        return 0.0
    final = samples[-1][1]
    reached = next(t for t, n in samples if n == final)
    return final / reached if reached > 0 else 0.0


# ---- the ledger ------------------------------------------------------------------------------


def capacity_excess(groups: list[tuple]) -> dict:
    """groups: (rep_channel_id, shift_day, ledger rows, max capacity, stored allowance or None).
    The day's allowance is the stored warm-up allowance within the max capacity, else the max."""
    violations = excess = at_cap = 0
    full: set = set()
    for rep_channel_id, _day, used, cap, stored in groups:
        allowance = min(cap, stored) if stored is not None else cap
        if used > allowance:
            violations, excess = violations + 1, excess + used - allowance
        if used >= allowance:
            at_cap += 1
            full.add(rep_channel_id)
    return {"violations": violations, "excess": excess, "at_cap": at_cap, "full": full}


def gaps(rows: list[tuple]) -> list[float]:
    """rows: (rep_channel_id, time) ordered by both → seconds between consecutive sends of a rep-channel."""
    out, previous = [], None
    for rep_channel_id, at in rows:
        if at is None:
            continue
        if previous is not None and previous[0] == rep_channel_id:
            out.append((at - previous[1]).total_seconds())
        previous = (rep_channel_id, at)
    return out


CAPACITY_SQL = """
SELECT rc.id, ar.shift_day, count(*), COALESCE(rca.max_capacity, rc.max_daily_capacity), da.allowance
  FROM salesreps_activityrecord ar
  JOIN salesreps_salesrepchannelactivity rca ON rca.id = ar.rep_channel_activity_id
  JOIN salesreps_salesrepchannel rc ON rc.id = rca.rep_channel_id
  LEFT JOIN salesreps_dailyallowance da ON da.rep_channel_id = rc.id AND da.day = ar.shift_day
       AND da.rep_channel_activity_id IS NOT DISTINCT FROM (CASE WHEN rca.max_capacity IS NOT NULL THEN rca.id END)
 WHERE rc.channel_id = %s
 GROUP BY rc.id, rca.id, ar.shift_day, rca.max_capacity, rc.max_daily_capacity, da.allowance
"""
SENDS_SQL = """
SELECT rca.rep_channel_id, ar.performed_at, m.sent_at, m.status
  FROM salesreps_activityrecord ar
  JOIN salesreps_salesrepchannelactivity rca ON rca.id = ar.rep_channel_activity_id
  JOIN salesreps_salesrepchannel rc ON rc.id = rca.rep_channel_id
  LEFT JOIN inbox_message m ON m.id = ar.message_id
 WHERE rc.channel_id = %s
 ORDER BY rca.rep_channel_id, ar.performed_at
"""


@_closing
def ledger(channel_id: int) -> dict:
    """Capacity per rep-channel and shift day against the allowance, the ledger's send times, and
    sent messages without a ledger row (capacity never counted for them)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(CAPACITY_SQL, [channel_id])
        groups = cursor.fetchall()
        cursor.execute(SENDS_SQL, [channel_id])
        sends = cursor.fetchall()
        cursor.execute("SELECT count(*) FROM inbox_message m WHERE m.channel_id = %s AND m.direction = 'out'"
                       "   AND m.status IN ('sent', 'delivered', 'read')"
                       "   AND NOT EXISTS (SELECT 1 FROM salesreps_activityrecord ar WHERE ar.message_id = m.id)", [channel_id])
        unledgered = cursor.fetchone()[0]
    return {"capacity": capacity_excess(groups), "groups": groups, "sends": sends, "sent_without_ledger_row": unledgered,
            "rows": len(sends), "rows_not_sent": sum(1 for s in sends if s[3] not in SENT)}


@_closing
def _outcome(channel_id: int) -> dict:
    from django.db.models import Count

    from inbox.models import DeliveryAttempt, Message

    mine = Message.objects.filter(channel_id=channel_id, direction="out")
    counts = dict(mine.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    deferred = dict(mine.filter(status="deferred").values_list("defer_code").annotate(n=Count("id")).values_list("defer_code", "n"))
    return {"counts": counts, "deferred": deferred, "parked": mine.filter(needs_reconciliation=True).count(),
            "attempts": DeliveryAttempt.objects.filter(message__channel_id=channel_id).count()}


def _status_figures(outcome: dict) -> dict:
    counts, deferred = outcome["counts"], outcome["deferred"]
    capacity = sum(deferred.get(code, 0) for code in CAPACITY_CODES)
    return {"sent": sum(counts.get(k, 0) for k in SENT), "deferred": counts.get("deferred", 0), "deferred_capacity": capacity,
            "deferred_pacing": deferred.get("pacing", 0),
            "deferred_other": counts.get("deferred", 0) - capacity - deferred.get("pacing", 0),
            "failed": counts.get("failed", 0), "parked_unknown": outcome["parked"], "attempts": outcome["attempts"]}


def _noop_rate(ctx: Ctx) -> float | None:
    return next((r["figures"].get("tasks_per_s") for r in ctx.rows if r["kind"] == "baseline.celery_noop"
                 and r["status"] == "ok"), None)


def _workers(ctx: Ctx) -> dict:
    return {n: p for n, p in ctx.procs.items() if n.startswith("celery")}


# ---- 1. sandbox dispatch ---------------------------------------------------------------------


@_closing
def _dispatch_channel(ctx: Ctx, limits: tuple[int | None, int | None]) -> int:
    """The sandboxed service channel of issue #10's row ("Bench sandbox", shared with the campaign
    expansion, whose planner then meets a channel with conversations, as it did for #10), with
    hourly and daily rate limits."""
    from bench.appservices import sandbox_channel
    from salesreps.models import Channel

    channel = sandbox_channel(ctx, ctx.sizes.dispatch_rep_channels, ctx.sizes.dispatch_capacity)
    Channel.objects.filter(pk=channel.pk).update(rate_limit_per_hour=limits[0], rate_limit_per_day=limits[1])
    return channel.id



async def dispatch(ctx: Ctx) -> None:
    """Queued sandbox replies due now on 1,000 rep-channels, every rule in play, pacing off."""
    s = ctx.sizes
    limits = (s.dispatch_rep_channels * s.dispatch_per_channel * 100, s.dispatch_rep_channels * s.dispatch_per_channel * 1000)
    params = {"rep_channels": s.dispatch_rep_channels, "messages": s.dispatch_rep_channels * s.dispatch_per_channel,
              "daily_capacity": s.dispatch_capacity, "workers": WORKERS, "concurrency": 1,
              "pacing": "SEND_MIN_GAP_MS=0 SEND_JITTER_MS=0 REPLY_GAP_MS=0",
              "channel_rate_limits": f"{limits[0]}/hour, {limits[1]}/day (counted, never reached)" if s.dispatch_rate_limits else "none",
              "quiet_hours": "every 3rd contact, later today"}
    name = "sandbox outbound dispatch"
    try:
        locate(DISPATCH)
        import inbox.tasks  # noqa: F401
    except ImportError as exc:
        ctx.skip("app.dispatch", name, params, "unavailable", f"not yet available: {exc}")
        return
    if ctx.spare(FANOUT + 120) < 0:
        ctx.skip("app.dispatch", name, params, "skipped", "time budget of the run is used up")
        return
    await quiesce(ctx, "dispatch")
    reps = ctx.world.rep_ids[:s.dispatch_rep_channels]
    channel_id = await asyncio.to_thread(_dispatch_channel, ctx, limits if s.dispatch_rate_limits else (None, None))
    await asyncio.to_thread(_seed_replies, channel_id=channel_id, rep_ids=reps, per=s.dispatch_per_channel, wa_prefix="49160",
                            label="dispatch", quiet_share=3)
    run = await drain(ctx, channel_id, s.dispatch_cap_s, _workers(ctx))
    outcome, book = await asyncio.gather(asyncio.to_thread(_outcome, channel_id), asyncio.to_thread(ledger, channel_id))
    rate, noop = steady_rate(run["samples"]), _noop_rate(ctx)
    figures = {"sends_per_s": round(rate, 1), "sends_per_s_overall": round(overall_rate(run["samples"]), 1),
               **_status_figures(outcome), "still_due": run["still_due"],
               "capacity_violations": book["capacity"]["violations"], "capacity_excess_sends": book["capacity"]["excess"],
               "rep_channels_at_cap": len(book["capacity"]["full"]), "sent_without_ledger_row": book["sent_without_ledger_row"],
               "ledger_rows": book["rows"], "seconds": round(run["seconds"], 2),
               **({"celery_noop_per_s": noop, "vs_celery_noop": round(rate / noop, 3)} if noop else {}), **run["cpu"]}
    ctx.add("app.dispatch", name, params, figures, note="" if run["still_due"] == 0 else
            f"{run['still_due']} messages were still due when the {run['cap_s']:.0f} s cap ran out; the rate is over what was sent")


# ---- 2. loopback provider --------------------------------------------------------------------


@_closing
def _wire(channel_id: int, fake) -> dict:
    """The database's messages against what the fake received, message by message ((to, body))."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT ci.external_id, m.body, m.status, m.external_id FROM inbox_message m"
                       "  JOIN inbox_conversation c ON c.id = m.conversation_id"
                       "  JOIN inbox_contactidentity ci ON ci.contact_id = c.contact_id AND ci.channel_id = m.channel_id"
                       " WHERE m.channel_id = %s AND m.direction = 'out'", [channel_id])
        rows = cursor.fetchall()
    with fake.lock:
        received, answered = dict(fake.by_message), dict(fake.answered)
    seeded = {(to, body) for to, body, _, _ in rows}
    sent = [(to, body, ext) for to, body, status, ext in rows if status in SENT]
    sent_keys = {(to, body) for to, body, _ in sent}
    return {"sent_not_received": sum(1 for to, body, _ in sent if (to, body) not in received),
            "received_not_sent": sum(1 for key in received if key in seeded and key not in sent_keys),
            "unknown_requests": sum(n for key, n in received.items() if key not in seeded),
            "external_id_mismatch": sum(1 for to, body, ext in sent if (to, body) in answered and answered[(to, body)] != ext)}


async def loopback(ctx: Ctx) -> None:
    """Replies inside the 24-hour window to a loopback WhatsApp Cloud API that answers in 100 ms."""
    from bench.loopback import LoopbackGraph, http_baseline

    s = ctx.sizes
    messages = s.loopback_rep_channels * s.loopback_per_channel
    params = {"rep_channels": s.loopback_rep_channels, "messages": messages, "provider_delay_ms": s.loopback_delay_ms,
              "workers": WORKERS, "concurrency": 1, "pacing": "SEND_MIN_GAP_MS=0 SEND_JITTER_MS=0 REPLY_GAP_MS=0",
              "daily_capacity": s.loopback_per_channel, "provider": "loopback WhatsApp Cloud API (bench/loopback.py)"}
    name = "outbound dispatch to a loopback WhatsApp Cloud API answering in 100 ms"
    try:
        locate(DISPATCH)
        import inbox.tasks  # noqa: F401
    except ImportError as exc:
        ctx.skip("app.loopback", name, params, "unavailable", f"not yet available: {exc}")
        return
    if ctx.spare(FANOUT + 120) < 0:
        ctx.skip("app.loopback", name, params, "skipped", "time budget of the run is used up")
        return
    fake = LoopbackGraph(phone_number_id=LOOPBACK_PNID, token=LOOPBACK_TOKEN, delay_s=s.loopback_delay_ms / 1000).start()
    try:
        baseline = await http_baseline(fake, requests=s.loopback_baseline_requests, concurrency=s.loopback_baseline_concurrency)
        fake.reset()
        await quiesce(ctx, "loopback")
        reps = ctx.world.rep_ids[:s.loopback_rep_channels]
        channel_id, _ = await asyncio.to_thread(
            _channel_with_reps, name="Bench loopback WhatsApp", pnid=LOOPBACK_PNID, rep_ids=reps, capacity=s.loopback_per_channel,
            sandbox=False, config={"api_base_url": fake.url},
            secrets={"access_token": LOOPBACK_TOKEN, "app_secret": "bench-loopback-secret", "verify_token": "bench"})
        await asyncio.to_thread(_seed_replies, channel_id=channel_id, rep_ids=reps, per=s.loopback_per_channel,
                                wa_prefix="49161", label="loopback")
        run = await drain(ctx, channel_id, s.loopback_cap_s, _workers(ctx))
        await asyncio.sleep(2 * s.loopback_delay_ms / 1000)  # answers still on their way are counted too
        outcome, wire, book = await asyncio.gather(asyncio.to_thread(_outcome, channel_id), asyncio.to_thread(_wire, channel_id, fake),
                                                   asyncio.to_thread(ledger, channel_id))
    finally:
        fake.stop()
    rate = steady_rate(run["samples"])
    status = _status_figures(outcome)
    figures = {"sends_per_s": round(rate, 1), "sends_per_s_overall": round(overall_rate(run["samples"]), 1), **status,
               "still_due": run["still_due"], "requests": fake.total, "messages_requested": len(fake.by_message),
               "received_more_than_once": fake.duplicates(), "callback_ids_more_than_once": fake.callback_duplicates(),
               "extra_requests": fake.total - len(fake.by_message), **wire, "malformed_requests": fake.malformed,
               "max_in_flight": fake.max_in_flight, "provider_connections": fake.connections,
               "capacity_violations": book["capacity"]["violations"], "sent_without_ledger_row": book["sent_without_ledger_row"],
               "baseline_http_per_s": baseline["requests_per_s"], "baseline_http_concurrency": s.loopback_baseline_concurrency,
               "one_at_a_time_bound_per_s": round(WORKERS * 1000 / s.loopback_delay_ms, 1), "seconds": round(run["seconds"], 2),
               **run["cpu"]}
    notes = []
    if run["still_due"]:
        notes.append(f"{run['still_due']} messages were still due when the {run['cap_s']:.0f} s cap ran out")
    if fake.malformed:
        notes.append(f"{fake.malformed} requests refused as malformed, e.g. {'; '.join(fake.malformed_examples)}")
    ctx.add("app.loopback", name, params, figures, note="; ".join(notes))


# ---- 3. paced campaign -----------------------------------------------------------------------


@_closing
def _seed_campaign(ctx: Ctx, channel_id: int) -> dict:
    """Contacts over five zones tagged for the campaign, with their WhatsApp identity; a template
    and a draft campaign written by the admin through the services the admin's requests call (the
    50 rep-channels span three teams: a team manager's campaign reaches only the team's contacts
    and reps, #17)."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from bench.seed import insert_select
    from campaigns.services.campaigns import campaign_create
    from inbox.models import Contact
    from inbox.services.templates import template_create
    from salesreps.models import Channel

    s, tag = ctx.sizes, "bench-paced"
    insert_select(Contact, s.paced_contacts, {
        "name": "'Lead ' || g", "phone": "'+49170' || lpad(g::text, 8, '0')", "tags": ("ARRAY[%s]::varchar(50)[]", [tag]),
        "timezone": "(ARRAY['UTC','Europe/Berlin','America/New_York','Asia/Tokyo','Australia/Sydney'])[1 + mod(g, 5)]",
        "lead_score": "mod(g, 100)",
    })
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO inbox_contactidentity (contact_id, channel_id, external_id)"
                       " SELECT id, %s, ltrim(phone, '+') FROM inbox_contact WHERE tags @> ARRAY[%s]::varchar(50)[]", [channel_id, tag])
    manager = get_user_model().objects.get(pk=ctx.world.admin_user)
    template = template_create(user=manager, fields={"name": "Bench paced offer", "body": "Hello {first_name}, a bench offer for you",
                                                      "whatsapp_name": "bench_paced_offer", "whatsapp_language": "en_US"})
    now = timezone.now().replace(microsecond=0)
    # Wall-clock bounds: 14 hours ago is already past in every zone, so every contact's window is open.
    campaign = campaign_create(user=manager, data={
        "name": "Bench paced campaign", "channel": Channel.objects.get(pk=channel_id), "template": template, "text": "",
        "audience": {"tags_any": [tag]}, "start_at": now - timedelta(hours=14), "end_at": now + timedelta(days=3),
        "daily_cap": s.paced_daily_cap or None})
    return {"campaign_id": campaign.id}


@_closing
def _start_campaign(campaign_id: int) -> dict:
    from campaigns.services.campaigns import campaign_start

    t0 = time.monotonic()
    result = campaign_start(campaign_id=campaign_id)
    return {"scheduled": result.scheduled, "skipped": result.skipped, "expansion_s": round(time.monotonic() - t0, 2)}


@_closing
def _cut_capacity(rep_channel_ids: list[int], capacity: int) -> None:
    from salesreps.models import SalesRepChannel
    from salesreps.services.rep_channels import rep_channel_update

    for rc in SalesRepChannel.objects.filter(pk__in=rep_channel_ids):
        rep_channel_update(rep_channel=rc, max_daily_capacity=capacity)


@_closing
def _due_now(channel_id: int) -> dict:
    from django.db.models import Count
    from django.utils import timezone

    from inbox.models import Message

    waiting = Message.objects.filter(channel_id=channel_id, direction="out", status__in=["queued", "deferred"])
    return {"due": waiting.filter(due_at__lte=timezone.now()).count(),
            "deferred": dict(waiting.filter(status="deferred").values_list("defer_code").annotate(n=Count("id"))
                             .values_list("defer_code", "n"))}


@_closing
def _cancel_campaign(campaign_id: int) -> int:
    """The manager cancels; a cancel PostgreSQL aborts as a deadlock is tried again, as the manager would
    click again. Returns how many tries failed that way (the row reports it: it would be an error answer)."""
    from django.db import OperationalError

    from campaigns.services.campaigns import campaign_cancel

    for failed in range(10):
        try:
            campaign_cancel(campaign_id=campaign_id)
            return failed
        except OperationalError as exc:
            if "deadlock" not in str(exc):
                raise
            time.sleep(0.2)
    raise RuntimeError("campaign_cancel deadlocked 10 times in a row")


@_closing
def _campaign_days(campaign_id: int) -> dict:
    """The campaign's ledger rows per UTC day (what its daily cap counts)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT (ar.performed_at AT TIME ZONE 'UTC')::date, count(*) FROM salesreps_activityrecord ar"
                       "  JOIN inbox_message m ON m.id = ar.message_id"
                       "  JOIN campaigns_campaignrecipient r ON r.id = m.campaign_recipient_id"
                       " WHERE r.campaign_id = %s GROUP BY 1", [campaign_id])
        return dict(cursor.fetchall())


@_closing
def _campaign_reserved(campaign_id: int) -> int:
    """The campaign's busiest UTC day by recipients let through its daily cap (reserved_at): what
    the cap counts, sent or not yet."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM campaigns_campaignrecipient"
                       " WHERE campaign_id = %s AND reserved_at IS NOT NULL GROUP BY (reserved_at AT TIME ZONE 'UTC')::date) d",
                       [campaign_id])
        return cursor.fetchone()[0]


@_closing
def _rep_channel_of_address(channel_id: int) -> dict[str, int]:
    """The address (wa_id) each ledger row's message went to → its rep-channel."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT ci.external_id, rca.rep_channel_id FROM salesreps_activityrecord ar"
                       "  JOIN salesreps_salesrepchannelactivity rca ON rca.id = ar.rep_channel_activity_id"
                       "  JOIN inbox_message m ON m.id = ar.message_id"
                       "  JOIN inbox_conversation c ON c.id = m.conversation_id"
                       "  JOIN inbox_contactidentity ci ON ci.contact_id = c.contact_id AND ci.channel_id = m.channel_id"
                       " WHERE m.channel_id = %s", [channel_id])
        return dict(cursor.fetchall())


async def paced_campaign(ctx: Ctx) -> None:
    """A manager's campaign with pacing on, for a bounded window, through the loopback WhatsApp Cloud
    API (or the sandbox): pacing, capacity and the daily cap checked from the ledger, pacing also as
    the provider saw it (arrival times per rep-channel)."""
    from bench.loopback import LoopbackGraph

    s = ctx.sizes
    gap_s, jitter_s = s.paced_gap_ms / 1000, s.paced_jitter_ms / 1000
    cut_every = max(1, s.paced_cut_every)
    wire = s.paced_provider == "loopback"
    params = {"contacts": s.paced_contacts, "rep_channels": s.paced_rep_channels, "workers": WORKERS,
              "pacing": f"SEND_MIN_GAP_MS={s.paced_gap_ms} SEND_JITTER_MS={s.paced_jitter_ms}", "window_s": s.paced_window_s,
              "daily_capacity": s.paced_capacity,
              "capacity_cut": f"every {cut_every}th rep-channel to {s.paced_cut_capacity}/day after the start",
              "campaign_daily_cap": s.paced_daily_cap or "none", "zones": 5, "content": "WhatsApp template",
              "provider": f"loopback WhatsApp Cloud API answering in {s.loopback_delay_ms} ms" if wire else "sandbox"}
    name = f"paced campaign of {s.paced_contacts:,} over {s.paced_rep_channels} rep-channels"
    try:
        locate(DISPATCH)
        locate(["campaigns.services.campaigns.campaign_create"])
        locate(["campaigns.services.campaigns.campaign_cancel"])
        locate(["inbox.services.templates.template_create"])
        locate(["salesreps.services.rep_channels.rep_channel_update"])
        import inbox.tasks  # noqa: F401
    except ImportError as exc:
        ctx.skip("app.paced_campaign", name, params, "unavailable", f"not yet available: {exc}")
        return
    if ctx.spare(FANOUT + s.paced_window_s + 60) < 0:
        ctx.skip("app.paced_campaign", name, params, "skipped", "time budget of the run is used up")
        return
    for worker in _workers(ctx).values():  # pacing-off workers must not send this campaign
        await asyncio.to_thread(worker.stop)
    await quiesce(ctx, "paced_campaign")
    fake = LoopbackGraph(phone_number_id=PACED_PNID, token=LOOPBACK_TOKEN, delay_s=s.loopback_delay_ms / 1000).start() if wire else None
    procs: dict = {}
    try:
        reps = ctx.world.rep_ids[:s.paced_rep_channels]
        channel_id, rc_ids = await asyncio.to_thread(
            _channel_with_reps, name="Bench paced campaign", pnid=PACED_PNID, rep_ids=reps, capacity=s.paced_capacity,
            sandbox=not wire, config={"api_base_url": fake.url} if wire else None,
            secrets={"access_token": LOOPBACK_TOKEN, "app_secret": "bench-paced-secret", "verify_token": "bench"})
        seeded = await asyncio.to_thread(_seed_campaign, ctx, channel_id)
        started = await asyncio.to_thread(_start_campaign, seeded["campaign_id"])
        cut = rc_ids[::cut_every]
        await asyncio.to_thread(_cut_capacity, cut, s.paced_cut_capacity)  # before any worker runs: every send sees the cut
        broker, queue = _broker()
        broker.delete(queue)  # the start's wake-up: the window begins with the harness's first wake, not a worker's boot

        env = {**ctx.env, "SEND_MIN_GAP_MS": str(s.paced_gap_ms), "SEND_JITTER_MS": str(s.paced_jitter_ms)}
        procs = {f"celery{i}": start_celery(f"paced{i}", env, ctx.log_dir) for i in range(1, WORKERS + 1)}
        ctx.procs.update({p.name: p for p in procs.values()})
        await asyncio.to_thread(wait_celery, list(procs.values()))
        cpu = CpuWatch(procs).start()
        t0, m0 = datetime.now(UTC), time.monotonic()
        while time.monotonic() - m0 < s.paced_window_s:
            _wake(broker, queue)
            await asyncio.sleep(0.5)
        t_end = datetime.now(UTC)
        cpu_figures = cpu.stop()
        at_end = await asyncio.to_thread(_due_now, channel_id)
        # The manager ends it; the workers then find nothing due.
        cancel_deadlocks = await asyncio.to_thread(_cancel_campaign, seeded["campaign_id"])
        for proc in procs.values():
            await asyncio.to_thread(proc.stop)
        if fake:
            await asyncio.sleep(2 * s.loopback_delay_ms / 1000)
    finally:
        for proc in procs.values():
            await asyncio.to_thread(proc.stop)
            ctx.procs.pop(proc.name, None)
        if fake:
            fake.stop()
    book, days, reserved, addresses = await asyncio.gather(
        asyncio.to_thread(ledger, channel_id), asyncio.to_thread(_campaign_days, seeded["campaign_id"]),
        asyncio.to_thread(_campaign_reserved, seeded["campaign_id"]), asyncio.to_thread(_rep_channel_of_address, channel_id))

    sent_rows = [(rc, performed) for rc, performed, _, status in book["sends"] if status in SENT]
    by_ledger = gaps(sent_rows)
    in_window = sorted(performed for _, performed in sent_rows if t0 <= performed <= t_end)
    window = (t_end - t0).total_seconds()
    ceiling = s.paced_rep_channels / (gap_s + jitter_s / 2) if gap_s + jitter_s else 0.0
    rate = len(in_window) / window if window else 0.0
    busiest = max(days.values(), default=0)
    deferred = at_end["deferred"]
    unpaced = next((r["figures"].get("sends_per_s") for r in ctx.rows if r["kind"] == "app.dispatch" and r["status"] == "ok"), None)
    figures = {
        "sends_per_s": round(rate, 1),
        "sends_per_s_active": round((len(in_window) - 1) / (in_window[-1] - in_window[0]).total_seconds(), 1)
        if len(in_window) > 1 and in_window[-1] > in_window[0] else 0.0,
        "pacing_ceiling_per_s": round(ceiling, 1), "vs_pacing_ceiling": round(rate / ceiling, 3) if ceiling else 0.0,
        "sends_in_window": len(in_window), "sends_total": len(sent_rows), "window_s": round(window, 1),
        "recipients_scheduled": started["scheduled"], "recipients_skipped": started["skipped"],
        "expansion_s": started["expansion_s"], "required_gap_ms": s.paced_gap_ms,
        "min_gap_ms": round(min(by_ledger) * 1000, 1) if by_ledger else 0.0,
        "p50_gap_ms": round(statistics.median(by_ledger) * 1000, 1) if by_ledger else 0.0,
        "pacing_violations": sum(1 for g in by_ledger if g < gap_s),
        "capacity_violations": book["capacity"]["violations"], "capacity_excess_sends": book["capacity"]["excess"],
        "cut_rep_channels": len(cut), "cut_rep_channels_at_cap": len(book["capacity"]["full"] & set(cut)),
        "campaign_daily_cap": s.paced_daily_cap, "campaign_busiest_day_sends": busiest,
        "campaign_busiest_day_let_through": reserved,
        "campaign_cap_violations": sum(1 for n in days.values() if s.paced_daily_cap and n > s.paced_daily_cap),
        "campaign_cap_reached": int(bool(s.paced_daily_cap) and reserved >= s.paced_daily_cap),
        "due_at_end": at_end["due"], "deferred_pacing_at_end": deferred.get("pacing", 0),
        "deferred_capacity_at_end": sum(deferred.get(c, 0) for c in CAPACITY_CODES),
        "deferred_campaign_cap_at_end": deferred.get("campaign_cap", 0),
        "sent_without_ledger_row": book["sent_without_ledger_row"], "cancel_deadlocks": cancel_deadlocks,
        **({"unpaced_sandbox_sends_per_s": unpaced} if unpaced is not None else {}),
    }
    if fake:
        arrivals = sorted((addresses[to], t) for t, to in fake.arrivals if to in addresses)
        on_wire = [b - a for (rc_a, a), (rc_b, b) in zip(arrivals, arrivals[1:], strict=False) if rc_a == rc_b]
        figures |= {"requests": fake.total, "received_more_than_once": fake.duplicates(), "malformed_requests": fake.malformed,
                    "requests_without_ledger_row": sum(1 for _, to in fake.arrivals if to not in addresses),
                    "min_gap_at_provider_ms": round(min(on_wire) * 1000, 1) if on_wire else 0.0,
                    "pacing_violations_at_provider": sum(1 for g in on_wire if g < gap_s),
                    "max_in_flight": fake.max_in_flight}
    figures |= cpu_figures
    notes = [f"{fake.malformed} requests refused as malformed, e.g. {'; '.join(fake.malformed_examples)}" if fake and fake.malformed
             else "", f"campaign_cancel failed {cancel_deadlocks} time(s) with 'deadlock detected' while the workers sent (tried "
             "again)" if cancel_deadlocks else ""]
    ctx.add("app.paced_campaign", name, params, figures, note="; ".join(n for n in notes if n))
