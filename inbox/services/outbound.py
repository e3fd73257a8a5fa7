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
from dataclasses import replace
from datetime import datetime, timedelta

import httpx
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from core.enqueue import task_enqueue
from core.errors import AccessDenied
from core.logs import entity_log
from core.realtime import emit
from inbox import hooks, sending
from inbox.models import ContactIdentity, Conversation, DeliveryAttempt, Message
from inbox.payloads import message_payload
from inbox.selectors import audience_user_ids, messages_for
from inbox.services.contacts import identity_record
from platforms import get_adapter
from platforms.base import SendResult
from salesreps.models import ActivityRecord, ChannelActivity, SalesRepChannel, SalesRepChannelActivity
from salesreps.rules import Window
from salesreps.selectors import capacity_of, channel_usage, message_activity
from salesreps.services import activity_record_unchecked, allowance_store

log = entity_log("messages")
logger = logging.getLogger("switchboard.messages")
MAX_ATTEMPTS = 5


def message_enqueue(*, message_id: int) -> None:
    """Wake a dispatcher once the row is committed (the row itself is the schedule)."""
    task_enqueue("inbox.tasks.dispatch_due")


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
            .filter(direction=Message.Direction.OUTBOUND)
            .filter(Q(status__in=[Message.Status.QUEUED, Message.Status.DEFERRED], due_at__lte=now)
                    | Q(status=Message.Status.SENDING, lease_until__lt=now))
            .order_by("-priority", "due_at", "id")
            .values_list("id", flat=True)[:limit]
        )
        ids = list(due)
        if ids:
            Message.objects.filter(id__in=ids).update(
                status=Message.Status.SENDING, lease_until=now + timedelta(seconds=settings.SEND_LEASE_SECONDS)
            )
    return ids


def dispatch_due_messages(*, max_seconds: float = 20.0, batch: int = 50, now: datetime | None = None) -> int:
    """Drain due messages for a while; several workers may run this at once."""
    started, handled = _time.monotonic(), 0
    with httpx.Client(timeout=httpx.Timeout(settings.PROVIDER_TIMEOUT_SECONDS, connect=5.0)) as client:
        while _time.monotonic() - started < max_seconds:
            ids = claim_due(limit=batch, now=now)
            if not ids:
                break
            for message_id in ids:
                try:
                    message_dispatch(message_id=message_id, client=client, now=now)
                except Exception:  # one message's error never holds the batch: its lease runs out, it is claimed again
                    logger.exception("dispatch of message %s failed", message_id)
                handled += 1
    return handled


# ---- the decision: facts gathered here, decided in inbox/sending.py ---------------------------


def _contact_facts(contact) -> sending.ContactFacts:
    quiet = Window(contact.quiet_start, contact.quiet_end) if contact.quiet_start and contact.quiet_end else None
    return sending.ContactFacts(
        opted_out=contact.opted_out, opt_out_reason=contact.opt_out_reason,
        channel_opt_outs=frozenset((contact.preferences or {}).get("opt_outs", [])),
        purpose_opt_outs=frozenset((contact.preferences or {}).get("opt_out_purposes", [])),
        opt_ins=frozenset((contact.preferences or {}).get("opt_ins", [])),
        last_inbound_at=contact.last_inbound_at, timezone=contact.timezone, quiet=quiet,
    )


def _last_inbound_on(message: Message):
    """The person's last message on the message's channel, over all their conversations there."""
    return (Conversation.objects.filter(contact_id=message.conversation.contact_id, channel_id=message.channel_id)
            .aggregate(last=Max("last_inbound_at"))["last"])


def send_facts(*, message: Message, rep_channel: SalesRepChannel | None, now: datetime) -> sending.SendFacts:
    """Everything decide() reads, read now. Caller holds the message and rep-channel row locks."""
    contact = message.conversation.contact
    campaign = next((f for f in hooks.send_facts.call(message=message, now=now) if f is not None), None)
    facts = sending.SendFacts(
        now=now, channel_kind=message.channel.kind, has_template=message.template_id is not None,
        purpose=sending.MARKETING if message.campaign_recipient_id else sending.CONVERSATION,
        requires_opt_in=bool(message.channel.config.get("require_opt_in")),
        contact=_contact_facts(contact), has_rep_channel=rep_channel is not None, campaign=campaign,
        channel_last_inbound_at=_last_inbound_on(message), human_agent_tag=bool(message.channel.config.get("human_agent_tag")),
    )
    if rep_channel is None:
        return facts
    # A message reserved by an earlier claim runs every rule again (#16): its own ledger row is
    # left out of the counts, so it neither blocks itself nor is counted twice.
    usage = channel_usage(channel=rep_channel.channel, at=now, exclude_message_id=message.id)
    return replace(
        facts,
        reserved=ActivityRecord.objects.filter(message_id=message.id).exists(),
        capacity=capacity_of(rep_channel=rep_channel, activity=message_activity(rep_channel), at=now,
                             exclude_message_id=message.id),
        rates=tuple(sending.RateUsage(code, u["limit"], u["used"], u["frees_at"]) for code, u in usage.items()),
        last_sent_at=rep_channel.last_sent_at, min_gap_seconds=settings.SEND_MIN_GAP_SECONDS,
        jitter_seconds=settings.SEND_JITTER_SECONDS, reply_gap_seconds=settings.REPLY_GAP_SECONDS, rand=random.random(),
    )


def _apply_effects(message: Message, rep_channel: SalesRepChannel | None, decision: sending.Decision, now: datetime) -> None:
    for effect in decision.effects:
        if isinstance(effect, sending.StoreAllowance):
            allowance_store(rep_channel=rep_channel, activity=message_activity(rep_channel), day=effect.day,
                            allowance=effect.allowance)
    hooks.send_decided.call(message=message, decision=decision, now=now)


def _ensure_message_activity(rep_channel: SalesRepChannel) -> SalesRepChannelActivity:
    """The rep-channel's "message" activity, created on the first send that records against it."""
    activity, _ = ChannelActivity.objects.get_or_create(channel_id=rep_channel.channel_id, name="message")
    rca, _ = SalesRepChannelActivity.objects.get_or_create(rep_channel=rep_channel, activity=activity)
    return rca


# ---- one message ---------------------------------------------------------------------------


def _reserve(message_id: int, now: datetime) -> tuple[Message, DeliveryAttempt | None, sending.Decision, SalesRepChannel | None]:
    with transaction.atomic():
        message = (Message.objects.select_for_update(of=("self",))
                   .select_related("conversation__contact", "channel", "template").get(pk=message_id))
        if message.status != Message.Status.SENDING:
            return message, None, sending.Decision("skip"), None
        rep_id = message.conversation.rep_id or message.sender_id
        # Lock the rep-channel row only (of=self): the joined rep and channel rows stay free.
        rep_channel = (SalesRepChannel.objects.select_for_update(of=("self",)).select_related("rep", "channel")
                       .filter(rep_id=rep_id, channel_id=message.channel_id).first())
        if message.channel.rate_limit_per_hour is not None or message.channel.rate_limit_per_day is not None:
            # Every rep of the channel counts against its rate limit: reps racing on one channel
            # decide one at a time (a transaction-scoped lock, after the rows above: fixed order).
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [CHANNEL_RATE_LOCK, message.channel_id])
        open_attempt = message.attempts_log.filter(status_code=0, ok=False, retryable=False).order_by("-id").first()
        if open_attempt and not get_adapter(message.channel.kind).idempotent and not (rep_channel and rep_channel.sandbox):
            # A worker died between asking the provider and recording the answer: never resend blind.
            message.needs_reconciliation, message.lease_until, message.due_at = True, None, now + RECONCILE_AFTER
            message.defer_code = "delivery_unknown"
            message.defer_reason = "delivery unknown after a worker crash: waiting for the platform's status"
            message.save(update_fields=["needs_reconciliation", "defer_reason", "defer_code", "lease_until", "due_at"])
            log.warning("message needs reconciliation", message=message.id)
            return message, None, sending.Decision("skip"), None
        decision = sending.decide(send_facts(message=message, rep_channel=rep_channel, now=now))
        _apply_effects(message, rep_channel, decision, now)
        if decision.action == "defer":
            message.status, message.due_at, message.lease_until = Message.Status.DEFERRED, decision.until, None
            message.defer_code, message.defer_reason = decision.code, decision.reason
            message.save(update_fields=["status", "due_at", "lease_until", "defer_code", "defer_reason"])
            _emit(message)  # every deferral, pacing included, reaches the socket with its reason
            log.info("message deferred", message=message.id, code=decision.code, until=decision.until)
            return message, None, decision, rep_channel
        if decision.action == "fail":
            _fail(message, decision.code, decision.reason)
            return message, None, decision, rep_channel
        if not ActivityRecord.objects.filter(message_id=message.id).exists():
            activity_record_unchecked(rep_channel=rep_channel, activity=_ensure_message_activity(rep_channel), at=now,
                                      message_id=message.id)
        rep_channel.last_sent_at = now
        rep_channel.save(update_fields=["last_sent_at"])
        message.rep_channel = rep_channel
        message.attempts += 1
        message.save(update_fields=["rep_channel", "attempts"])
        attempt = DeliveryAttempt.objects.create(message=message, sandbox=rep_channel.sandbox)
        return message, attempt, decision, rep_channel


def _fail(message: Message, code: str, reason: str, *, release: bool = True) -> None:
    message.status, message.error_code, message.error_title = Message.Status.FAILED, code, reason[:300]
    message.defer_reason, message.defer_code, message.lease_until = "", "", None
    message.save(update_fields=["status", "error_code", "error_title", "defer_reason", "defer_code", "lease_until"])
    if release:  # nothing left: the capacity is free again
        ActivityRecord.objects.filter(message_id=message.id).delete()
    _emit(message)
    log.info("message failed", message=message.id, conversation=message.conversation_id, code=code)


def _thread_headers(message: Message) -> dict:
    """A reply in an e-mail thread: "Re: " the person's last subject, In-Reply-To their last mail
    and References the thread so far (RFC 5322 §3.6.4), so it lands in the same thread."""
    thread = list(Message.objects.filter(conversation_id=message.conversation_id, id__lt=message.id).exclude(external_id="")
                  .order_by("-id").values_list("direction", "external_id", "subject")[:20])
    last_in = next((t for t in thread if t[0] == Message.Direction.INBOUND), None)
    if last_in is None:
        return {}
    subject = last_in[2]
    headers = {"in_reply_to": last_in[1], "references": " ".join(t[1] for t in reversed(thread) if t[1].startswith("<"))}
    if subject:
        headers["subject"] = subject if subject[:3].lower() == "re:" else f"Re: {subject}"
    return headers


def _provider_send(message: Message, rep_channel: SalesRepChannel, client: httpx.Client) -> SendResult:
    if rep_channel.sandbox:
        return SendResult(ok=True, external_id=f"sandbox-{uuid.uuid4().hex}", status_code=200, response={"sandbox": True})
    channel = message.channel
    adapter = get_adapter(channel.kind)
    identity = message.conversation.contact.identities.filter(channel=channel).first()
    contact = message.conversation.contact
    # An e-mail goes to an e-mail address only; every other platform takes the phone number.
    to = identity.external_id if identity else (contact.email if channel.kind == "email" else contact.phone)
    if not to:
        return SendResult(ok=False, error_code="no_address",
                          error_title=f"the contact has no {'e-mail address' if channel.kind == 'email' else 'phone number'} for {channel.kind}")
    template = None
    if message.template_id:  # the platform's own template where it has one (WhatsApp), else the rendered text
        template = adapter.template_for(name=message.template.whatsapp_name, language=message.template.whatsapp_language,
                                        body=message.template.body, variables=message.variables or {})
    base_url = channel.config.get("api_base_url") or channel.internal_url or adapter.default_base_url
    config = {"name": channel.name, **channel.config}
    last = _last_inbound_on(message)
    # decide() let it through: outside the 24-hour window that means with the HUMAN_AGENT tag.
    config["within_24h"] = last is not None and timezone.now() - last <= sending.WINDOW
    if channel.kind == "email":
        config |= _thread_headers(message)
    try:
        return adapter.send(client=client, base_url=base_url, config=config, secrets=channel.secrets, to=to,
                            text=message.body, template=template, idempotency_key=f"switchboard-msg-{message.id}")
    except Exception as exc:  # an adapter bug must not strand the message in "sending"
        logger.exception("provider adapter raised")
        return SendResult(ok=False, retryable=True, ambiguous=True, error_code="adapter_error", error_title=str(exc)[:300])


def _record(message_id: int, attempt: DeliveryAttempt, result: SendResult, now: datetime) -> None:
    with transaction.atomic():
        message = (Message.objects.select_for_update(of=("self",)).select_related("conversation__contact", "channel")
                   .get(pk=message_id))
        DeliveryAttempt.objects.filter(pk=attempt.pk).update(
            ok=result.ok, retryable=result.retryable, status_code=result.status_code or (200 if result.ok else 599),
            external_id=result.external_id, error_code=result.error_code, error_title=result.error_title[:300],
            response=result.response,
        )
        if result.ok:
            message.status, message.external_id, message.sent_at, message.status_at = Message.Status.SENT, result.external_id, now, now
            message.lease_until, message.defer_reason, message.defer_code = None, "", ""
            message.save(update_fields=["status", "external_id", "sent_at", "status_at", "lease_until", "defer_reason", "defer_code"])
            _first_response(message.conversation, now)
            _remember_identity(message)
            _emit(message)
            log.info("message sent", message=message.id, conversation=message.conversation_id,
                     external_id=result.external_id, sandbox=attempt.sandbox)
            hooks.message_status_changed.call(message=message)
        elif result.ambiguous and not attempt.sandbox and not get_adapter(message.channel.kind).idempotent:
            _park_unknown(message, result, now)
        elif result.retryable and message.attempts < MAX_ATTEMPTS:
            backoff = min(600, 2 ** message.attempts) * (0.5 + random.random())
            message.status, message.due_at, message.lease_until = Message.Status.QUEUED, now + timedelta(seconds=backoff), None
            message.defer_code, message.defer_reason = "provider_retry", f"provider error {result.error_code or result.status_code}, retrying"
            message.save(update_fields=["status", "due_at", "lease_until", "defer_code", "defer_reason"])
            log.warning("send will retry", message=message.id, attempt=message.attempts, code=result.error_code)
        else:
            _fail(message, result.error_code or str(result.status_code), result.error_title or "provider refused the message")


RECONCILE_AFTER = timedelta(minutes=30)
CHANNEL_RATE_LOCK = 0x5B_0E_7A_7E  # pg advisory lock class: one channel's rate-limited decisions


def _park_unknown(message: Message, result: SendResult, now: datetime) -> None:
    """The provider may have the message: never resend it blind. It waits, as "delivery unknown",
    for the platform's first status naming it (by external id or our correlation id); after
    RECONCILE_AFTER with none, messages_reconcile_expired fails it for a rep to retry by hand."""
    message.needs_reconciliation, message.lease_until, message.due_at = True, None, now + RECONCILE_AFTER
    message.defer_code = "delivery_unknown"
    message.defer_reason = f"delivery unknown ({result.error_code or result.status_code}): waiting for the platform's status"
    message.save(update_fields=["needs_reconciliation", "lease_until", "due_at", "defer_code", "defer_reason"])
    _emit(message)
    log.warning("message delivery unknown", message=message.id, code=result.error_code)


def messages_reconcile_expired(*, now: datetime | None = None) -> int:
    """Fail what no status settled within RECONCILE_AFTER, with a reason a rep can act on (beat)."""
    now = now or timezone.now()
    failed = 0
    for message_id in Message.objects.filter(status=Message.Status.SENDING, needs_reconciliation=True, due_at__lte=now).values_list("id", flat=True):
        with transaction.atomic():
            message = Message.objects.select_for_update(of=("self",)).filter(pk=message_id, status=Message.Status.SENDING,
                                                                             needs_reconciliation=True).first()
            if message is None:
                continue
            message.needs_reconciliation = False
            message.save(update_fields=["needs_reconciliation"])
            # The reservation stays: the message may have gone out and used the capacity.
            _fail(message, "delivery_unknown", "no status from the platform: it may or may not have arrived. "
                                               "Retry only if the person did not get it: it may arrive twice", release=False)
            failed += 1
    return failed


def _remember_identity(message: Message) -> None:
    """The first send to a contact on a channel records the identity the platform will answer
    from, so the reply finds this contact instead of creating a second one."""
    contact, channel = message.conversation.contact, message.channel
    if not ContactIdentity.objects.filter(contact=contact, channel=channel).exists():
        identity_record(contact_id=contact.pk, channel=channel, address=contact.email if channel.kind == "email" else contact.phone)


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
    message = messages_for(user).select_for_update(of=("self",)).filter(pk=message_id, direction=Message.Direction.OUTBOUND).first()
    if message is None:
        raise AccessDenied(f"message {message_id} not found")
    if message.status != Message.Status.FAILED:
        raise ValueError(f"only failed messages can be retried (this one is {message.status})")
    message.status, message.due_at, message.error_code, message.error_title = Message.Status.QUEUED, timezone.now(), "", ""
    message.attempts = 0
    message.save(update_fields=["status", "due_at", "error_code", "error_title", "attempts"])
    _emit(message)
    message_enqueue(message_id=message.id)
    return message
