"""One outbound message's outcomes and its provider request: failed, parked as "delivery
unknown", retried later; the request built from the contact's address, template and thread.
The batch dispatcher (inbox/services/dispatch.py) calls these for the messages that need them.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
from django.utils import timezone

from core.logs import entity_log
from core.realtime import emit
from inbox import sending
from inbox.models import Conversation, DeliveryAttempt, Message
from inbox.payloads import message_payload
from inbox.rules import reply_window_open
from inbox.selectors import audience_user_ids
from platforms import get_adapter
from platforms.base import SendResult
from salesreps.rules import Window
from salesreps.services import records_release

log = entity_log("messages")
MAX_ATTEMPTS = 5
RECONCILE_AFTER = timedelta(minutes=30)
CHANNEL_RATE_LOCK = 0x5B_0E_7A_7E  # pg advisory lock class: one channel's rate-limited decisions


def message_emit(message: Message) -> None:
    conversation = Conversation.objects.select_related("rep").get(pk=message.conversation_id)
    emit("message.updated", message_payload(message), audience_user_ids(conversation))


def contact_facts(contact) -> sending.ContactFacts:
    quiet = Window(contact.quiet_start, contact.quiet_end) if contact.quiet_start and contact.quiet_end else None
    return sending.ContactFacts(
        opted_out=contact.opted_out, opt_out_reason=contact.opt_out_reason,
        channel_opt_outs=frozenset((contact.preferences or {}).get("opt_outs", [])),
        purpose_opt_outs=frozenset((contact.preferences or {}).get("opt_out_purposes", [])),
        opt_ins=frozenset((contact.preferences or {}).get("opt_ins", [])),
        last_inbound_at=contact.last_inbound_at, timezone=contact.timezone, quiet=quiet,
    )


# ---- outcomes ------------------------------------------------------------------------------


def fail(message: Message, code: str, reason: str, *, release: bool = True) -> None:
    message.status, message.error_code, message.error_title = Message.Status.FAILED, code, reason[:300]
    message.defer_reason, message.defer_code, message.lease_until = "", "", None
    message.save(update_fields=["status", "error_code", "error_title", "defer_reason", "defer_code", "lease_until"])
    if release:  # nothing left: the capacity is free again, and a day with nothing sent is no warm-up day
        records_release(message_ids=[message.id])
    message_emit(message)
    log.info("message failed", message=message.id, conversation=message.conversation_id, code=code)


def park_after_crash(message: Message, now: datetime) -> None:
    """A worker died between asking the provider and recording the answer: never resend blind."""
    _park(message, now, "delivery unknown after a worker crash: waiting for the platform's status")
    log.warning("message needs reconciliation", message=message.id)


def park_unknown(message: Message, result: SendResult, now: datetime) -> None:
    """The provider may have the message: never resend it blind. It waits, as "delivery unknown",
    for the platform's first status naming it (by external id or our correlation id); after
    RECONCILE_AFTER with none, messages_reconcile_expired fails it for a rep to retry by hand."""
    _park(message, now, f"delivery unknown ({result.error_code or result.status_code}): waiting for the platform's status")
    log.warning("message delivery unknown", message=message.id, code=result.error_code)


def _park(message: Message, now: datetime, reason: str) -> None:
    message.needs_reconciliation, message.lease_until, message.due_at = True, None, now + RECONCILE_AFTER
    message.defer_code, message.defer_reason = "delivery_unknown", reason
    message.save(update_fields=["needs_reconciliation", "lease_until", "due_at", "defer_code", "defer_reason"])
    message_emit(message)


def unsent(message: Message, result: SendResult, attempt: DeliveryAttempt, now: datetime) -> None:
    """The provider did not take it, or may have: parked, retried with backoff, or failed."""
    if result.ambiguous and not attempt.sandbox and not get_adapter(message.channel.kind).idempotent:
        park_unknown(message, result, now)
    elif result.retryable and message.attempts < MAX_ATTEMPTS:
        backoff = min(600, 2 ** message.attempts) * (0.5 + random.random())
        message.status, message.due_at, message.lease_until = Message.Status.QUEUED, now + timedelta(seconds=backoff), None
        message.defer_code, message.defer_reason = "provider_retry", f"provider error {result.error_code or result.status_code}, retrying"
        message.save(update_fields=["status", "due_at", "lease_until", "defer_code", "defer_reason"])
        log.warning("send will retry", message=message.id, attempt=message.attempts, code=result.error_code)
    else:
        fail(message, result.error_code or str(result.status_code), result.error_title or "provider refused the message")


# ---- the provider request ------------------------------------------------------------------


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


def send_request(message: Message, identity: str | None, last_inbound_at: datetime | None) -> Callable[[httpx.Client], SendResult] | SendResult:
    """The provider call for one message (run later, from a sender thread, without the
    database), or the refusal when there is no address to send to. `identity` is the contact's
    external id on the message's channel, `last_inbound_at` their last message there."""
    channel = message.channel
    adapter = get_adapter(channel.kind)
    contact = message.conversation.contact
    # An e-mail goes to an e-mail address only; every other platform takes the phone number.
    to = identity or (contact.email if channel.kind == "email" else contact.phone)
    if not to:
        return SendResult(ok=False, error_code="no_address",
                          error_title=f"the contact has no {'e-mail address' if channel.kind == 'email' else 'phone number'} for {channel.kind}")
    template = None
    if message.template_id:  # the platform's own template where it has one (WhatsApp), else the rendered text
        t = message.template
        template = adapter.template_for(name=t.whatsapp_name, language=t.whatsapp_language, body=t.body, variables=message.variables or {},
                                        header=t.whatsapp_header, header_format=t.whatsapp_header_format, subject=t.subject,
                                        html_body=t.html_body)
    base_url = channel.config.get("api_base_url") or channel.internal_url or adapter.default_base_url
    config = {"name": channel.name, **channel.config}
    # decide() let it through: outside the 24-hour window that means with the HUMAN_AGENT tag.
    config["within_24h"] = reply_window_open(last_inbound_at=last_inbound_at, now=timezone.now())
    if channel.kind == "email":
        config |= _thread_headers(message)
    secrets, text, key = channel.secrets, message.body, f"switchboard-msg-{message.id}"

    def call(client: httpx.Client) -> SendResult:
        return adapter.send(client=client, base_url=base_url, config=config, secrets=secrets, to=to,
                            text=text, template=template, idempotency_key=key)
    return call
