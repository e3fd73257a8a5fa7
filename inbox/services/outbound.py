"""Outbound dispatch: claim due rows, apply every rule under the rep-channel lock, send once.

States: queued → sending → sent | failed | deferred (→ queued again when due). Due rows live in
PostgreSQL and are claimed with select_for_update(skip_locked=True); nothing waits in a Celery
ETA. Exactly once: the claim sets a lease; capacity is reserved in the ledger (one row per
message, unique) in the same transaction as the rules; the provider is called with the
message's stable idempotency key. A claim that finds an attempt left open by a killed worker
resends only to providers that honour that key, otherwise it parks the message for
reconciliation from status webhooks (README, "Delivery guarantees").
"""
from __future__ import annotations

import logging
import random
import time as _time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from campaigns.rules import LocalHours, is_quiet, quiet_ends
from core.errors import AccessDenied
from core.logs import entity_log
from core.realtime import emit
from inbox.models import Conversation, DeliveryAttempt, Message
from inbox.payloads import message_payload
from inbox.selectors import audience_user_ids
from platforms import get_adapter
from platforms.base import SendResult
from salesreps import rules
from salesreps.models import ActivityRecord, ChannelActivity, SalesRepChannel, SalesRepChannelActivity
from salesreps.services import CapacityRefused, activity_check

log = entity_log("messages")
logger = logging.getLogger("switchboard.messages")
MAX_ATTEMPTS = 5
UNAVAILABLE_RECHECK = timedelta(minutes=15)
# Providers that deduplicate on our idempotency key, so a resend after a crash is safe. Only our
# own channel services promise it; Twilio's API ignores idempotency headers, Meta has none, and
# SMTP relays don't deduplicate on Message-ID (README, "Delivery guarantees").
IDEMPOTENT_PROVIDERS = frozenset({"service"})
DEFAULT_BASE_URLS = {"whatsapp": "https://graph.facebook.com", "messenger": "https://graph.facebook.com",
                     "instagram": "https://graph.facebook.com", "sms": "https://api.twilio.com"}


def message_enqueue(*, message_id: int) -> None:
    """Wake a dispatcher once the row is committed (the row itself is the schedule)."""
    from inbox.tasks import dispatch_due

    transaction.on_commit(lambda: dispatch_due.delay())


@dataclass
class Decision:
    action: str  # send | defer | fail
    code: str = ""
    reason: str = ""
    until: datetime | None = None


def _emit(message: Message) -> None:
    conversation = Conversation.objects.select_related("rep").get(pk=message.conversation_id)
    emit("message.updated", message_payload(message), audience_user_ids(conversation))


# ---- claiming -------------------------------------------------------------------------------


def claim_due(*, limit: int = 50, now: datetime | None = None) -> list[int]:
    """Claim due messages (best leads first) and lease them to this worker."""
    now = now or timezone.now()
    with transaction.atomic():
        due = (
            Message.objects.select_for_update(skip_locked=True)
            .filter(direction="out")
            .filter(Q(status__in=["queued", "deferred"], due_at__lte=now) | Q(status="sending", lease_until__lt=now))
            .order_by("-priority", "due_at", "id")
            .values_list("id", flat=True)[:limit]
        )
        ids = list(due)
        if ids:
            Message.objects.filter(id__in=ids).update(
                status="sending", lease_until=now + timedelta(seconds=settings.SEND_LEASE_SECONDS)
            )
    return ids


def dispatch_due_messages(*, max_seconds: float = 20.0, batch: int = 50, now: datetime | None = None) -> int:
    """Drain due messages for a while; several workers may run this at once."""
    started, handled = _time.monotonic(), 0
    with httpx.Client(timeout=httpx.Timeout(10.0, connect=5.0)) as client:
        while _time.monotonic() - started < max_seconds:
            ids = claim_due(limit=batch, now=now)
            if not ids:
                break
            for message_id in ids:
                message_dispatch(message_id=message_id, client=client, now=now)
                handled += 1
    return handled


# ---- rules ------------------------------------------------------------------------------------


def _activity_for(rep_channel: SalesRepChannel) -> SalesRepChannelActivity:
    activity, _ = ChannelActivity.objects.get_or_create(channel_id=rep_channel.channel_id, name="message")
    rca, _ = SalesRepChannelActivity.objects.get_or_create(rep_channel=rep_channel, activity=activity)
    return rca


def _channel_rate(rep_channel: SalesRepChannel, now: datetime) -> Decision | None:
    channel = rep_channel.channel
    records = ActivityRecord.objects.filter(rep_channel_activity__rep_channel__channel_id=channel.id)
    for limit, span, code in ((channel.rate_limit_per_hour, timedelta(hours=1), "channel_hourly"),
                              (channel.rate_limit_per_day, timedelta(days=1), "channel_daily")):
        if limit is None:
            continue
        window = records.filter(performed_at__gt=now - span).order_by("performed_at")
        if window.count() >= limit:
            oldest = window.values_list("performed_at", flat=True)[window.count() - limit]
            until = oldest + span
            per = "hour" if code == "channel_hourly" else "day"
            return Decision("defer", code, f"channel rate limit {limit}/{per} reached until {until:%Y-%m-%d %H:%M} UTC", until)
    return None


def decide(*, message: Message, rep_channel: SalesRepChannel | None, now: datetime) -> Decision:
    """Every rule of DESIGN.md flow 2, in order. Caller holds the rep-channel row lock."""
    contact = message.conversation.contact
    if contact.opted_out:
        return Decision("fail", "opted_out", f"contact opted out ({contact.opt_out_reason or 'request'})")
    if message.channel.kind in (contact.preferences or {}).get("opt_outs", []):
        return Decision("fail", "opted_out_channel", f"contact opted out of {message.channel.kind} messages")
    if rep_channel is None:
        return Decision("fail", "no_rep_channel", "no rep with this channel is assigned to the conversation")
    if message.channel.kind == "whatsapp" and message.template_id is None:
        last = contact.last_inbound_at
        if last is None or now - last > timedelta(hours=24):
            return Decision("fail", "whatsapp_24h_window",
                            "WhatsApp's 24-hour window has closed: free text is refused, send a template")
    if message.campaign_recipient_id:
        # Campaign messages go only inside the contact's window: re-planned or skipped past it.
        from campaigns.services.dispatch import campaign_window_hold

        hold = campaign_window_hold(message=message, now=now)
        if hold:
            return Decision(*hold)
    if contact.quiet_start and contact.quiet_end:
        quiet = LocalHours(contact.quiet_start, contact.quiet_end)
        if is_quiet(at=now, tz=contact.timezone, quiet=quiet):
            until = quiet_ends(at=now, tz=contact.timezone, quiet=quiet)
            local_end = until.astimezone(_zone(contact.timezone))
            return Decision("defer", "quiet_hours", f"contact's quiet hours until {local_end:%H:%M} {contact.timezone}", until)
    if ActivityRecord.objects.filter(message_id=message.id).exists():
        return Decision("send")  # capacity already reserved by an earlier claim of this message
    try:
        activity_check(rep_channel=rep_channel, activity=_activity_for(rep_channel), at=now)
    except CapacityRefused as refused:
        until = refused.until or (now + UNAVAILABLE_RECHECK)
        return Decision("defer", refused.code, refused.reason, until)
    rate = _channel_rate(rep_channel, now)
    if rate:
        return rate
    if message.campaign_recipient_id:
        # Campaign daily cap ("campaign_cap"): takes the campaign row lock, reserves today's send.
        from campaigns.services.dispatch import campaign_cap_hold

        capped = campaign_cap_hold(message=message, now=now)
        if capped:
            return Decision(*capped)
    delay = rules.pacing_delay(last_sent_at=rep_channel.last_sent_at, now=now,
                               min_gap_seconds=settings.SEND_MIN_GAP_SECONDS,
                               jitter_seconds=settings.SEND_JITTER_SECONDS, rand=random.random())
    if delay > 0:
        return Decision("defer", "pacing", "", now + timedelta(seconds=delay))
    return Decision("send")


def _zone(name: str):
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


# ---- one message ---------------------------------------------------------------------------


def _reserve(message_id: int, now: datetime) -> tuple[Message, DeliveryAttempt | None, Decision, SalesRepChannel | None]:
    with transaction.atomic():
        message = (Message.objects.select_for_update(of=("self",))
                   .select_related("conversation__contact", "channel", "template").get(pk=message_id))
        if message.status != "sending":
            return message, None, Decision("skip"), None
        rep_id = message.conversation.rep_id or message.sender_id
        rep_channel = (SalesRepChannel.objects.select_for_update().select_related("rep", "channel")
                       .filter(rep_id=rep_id, channel_id=message.channel_id).first())
        open_attempt = message.attempts_log.filter(status_code=0, ok=False, retryable=False).order_by("-id").first()
        if open_attempt and message.channel.kind not in IDEMPOTENT_PROVIDERS and not (rep_channel and rep_channel.sandbox):
            # A worker died between asking the provider and recording the answer: never resend blind.
            message.needs_reconciliation = True
            message.defer_reason = "delivery unknown after a worker crash: waiting for the platform's status"
            message.lease_until = None
            message.save(update_fields=["needs_reconciliation", "defer_reason", "lease_until"])
            log.warning("message needs reconciliation", message=message.id)
            return message, None, Decision("skip"), None
        decision = decide(message=message, rep_channel=rep_channel, now=now)
        if decision.action == "defer":
            message.status, message.due_at, message.lease_until = "deferred", decision.until, None
            message.defer_code, message.defer_reason = decision.code, decision.reason
            message.save(update_fields=["status", "due_at", "lease_until", "defer_code", "defer_reason"])
            if decision.code != "pacing":
                _emit(message)
                log.info("message deferred", message=message.id, code=decision.code, until=decision.until)
            return message, None, decision, rep_channel
        if decision.action == "fail":
            _fail(message, decision.code, decision.reason)
            return message, None, decision, rep_channel
        if not ActivityRecord.objects.filter(message_id=message.id).exists():
            from salesreps.services import activity_record_unchecked

            activity_record_unchecked(rep_channel=rep_channel, activity=_activity_for(rep_channel), at=now, message_id=message.id)
        rep_channel.last_sent_at = now
        rep_channel.save(update_fields=["last_sent_at"])
        message.rep_channel = rep_channel
        message.attempts += 1
        message.save(update_fields=["rep_channel", "attempts"])
        attempt = DeliveryAttempt.objects.create(message=message, sandbox=rep_channel.sandbox)
        return message, attempt, decision, rep_channel


def _fail(message: Message, code: str, reason: str) -> None:
    message.status, message.error_code, message.error_title = "failed", code, reason[:300]
    message.defer_reason, message.defer_code, message.lease_until = "", "", None
    message.save(update_fields=["status", "error_code", "error_title", "defer_reason", "defer_code", "lease_until"])
    ActivityRecord.objects.filter(message_id=message.id).delete()  # nothing left: the capacity is free again
    _emit(message)
    log.info("message failed", message=message.id, conversation=message.conversation_id, code=code)


def _provider_send(message: Message, rep_channel: SalesRepChannel, client: httpx.Client) -> SendResult:
    if rep_channel.sandbox:
        return SendResult(ok=True, external_id=f"sandbox-{uuid.uuid4().hex}", status_code=200, response={"sandbox": True})
    channel = message.channel
    adapter = get_adapter(channel.kind)
    identity = message.conversation.contact.identities.filter(channel=channel).first()
    to = identity.external_id if identity else (message.conversation.contact.phone or message.conversation.contact.email)
    template = None
    if message.template_id and message.template.whatsapp_name:
        template = {"name": message.template.whatsapp_name, "language": message.template.whatsapp_language,
                    "variables": message.variables}
    base_url = channel.config.get("api_base_url") or channel.internal_url or DEFAULT_BASE_URLS.get(channel.kind, "")
    config = {"name": channel.name, **channel.config}
    try:
        return adapter.send(client=client, base_url=base_url, config=config, secrets=channel.secrets, to=to,
                            text=message.body, template=template, idempotency_key=f"switchboard-msg-{message.id}")
    except Exception as exc:  # an adapter bug must not strand the message in "sending"
        logger.exception("provider adapter raised")
        return SendResult(ok=False, retryable=True, error_code="adapter_error", error_title=str(exc)[:300])


def _record(message_id: int, attempt: DeliveryAttempt, result: SendResult, now: datetime) -> None:
    with transaction.atomic():
        message = Message.objects.select_for_update().select_related("conversation").get(pk=message_id)
        DeliveryAttempt.objects.filter(pk=attempt.pk).update(
            ok=result.ok, retryable=result.retryable, status_code=result.status_code or (200 if result.ok else 599),
            external_id=result.external_id, error_code=result.error_code, error_title=result.error_title[:300],
            response=result.response,
        )
        if result.ok:
            message.status, message.external_id, message.sent_at, message.status_at = "sent", result.external_id, now, now
            message.lease_until, message.defer_reason, message.defer_code = None, "", ""
            message.save(update_fields=["status", "external_id", "sent_at", "status_at", "lease_until", "defer_reason", "defer_code"])
            _first_response(message.conversation, now)
            _emit(message)
            log.info("message sent", message=message.id, conversation=message.conversation_id,
                     external_id=result.external_id, sandbox=attempt.sandbox)
            if message.campaign_recipient_id:
                from campaigns.hooks import on_message_status

                on_message_status(recipient_id=message.campaign_recipient_id, status="sent")
        elif result.retryable and message.attempts < MAX_ATTEMPTS:
            backoff = min(600, 2 ** message.attempts) * (0.5 + random.random())
            message.status, message.due_at, message.lease_until = "queued", now + timedelta(seconds=backoff), None
            message.defer_code, message.defer_reason = "provider_retry", f"provider error {result.error_code or result.status_code}, retrying"
            message.save(update_fields=["status", "due_at", "lease_until", "defer_code", "defer_reason"])
            log.warning("send will retry", message=message.id, attempt=message.attempts, code=result.error_code)
        else:
            _fail(message, result.error_code or str(result.status_code), result.error_title or "provider refused the message")


def _first_response(conversation: Conversation, now: datetime) -> None:
    """Seconds from the conversation's start to the team's first reply (the dashboard shows it)."""
    if conversation.first_response_seconds is None and conversation.last_inbound_at is not None:
        seconds = max(0, int((now - conversation.created_at).total_seconds()))
        Conversation.objects.filter(pk=conversation.pk, first_response_seconds__isnull=True).update(first_response_seconds=seconds)


def message_dispatch(*, message_id: int, client: httpx.Client, now: datetime | None = None) -> str:
    """`now` is for tests that pin the clock (DST days); workers use the real time."""
    now = now or timezone.now()
    message, attempt, decision, rep_channel = _reserve(message_id, now)
    if attempt is None:
        return decision.action
    result = _provider_send(message, rep_channel, client)
    _record(message_id, attempt, result, now)
    return "sent" if result.ok else "failed"


@transaction.atomic
def message_retry(*, user, message_id: int) -> Message:
    """A failed message retried by hand goes through the whole path again, provider included."""
    from inbox.selectors import messages_for

    message = messages_for(user).select_for_update(of=("self",)).filter(pk=message_id, direction="out").first()
    if message is None:
        raise AccessDenied(f"message {message_id} not found")
    if message.status != "failed":
        raise ValueError(f"only failed messages can be retried (this one is {message.status})")
    message.status, message.due_at, message.error_code, message.error_title = "queued", timezone.now(), "", ""
    message.attempts = 0
    message.save(update_fields=["status", "due_at", "error_code", "error_title", "attempts"])
    _emit(message)
    message_enqueue(message_id=message.id)
    return message
