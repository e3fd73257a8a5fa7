"""Activities other than messages — a like, a comment, a broadcast… (#18 item 3).

A request is a queued row, dispatched by the same workers as messages (inbox.tasks.dispatch_due)
and decided by the same checks (inbox.sending.ACTIVITY_CHECKS: the activity's own window and cap,
falling back to the rep-channel's, its warm-up, availability, channel rate limits, pacing), under
the same locks: the rep-channel row, then the channel's rate lock. The ledger row is written with
the decision; the channel's service performs it (platforms.service.perform: signed, with an
idempotency key, so a request re-claimed after a crash is performed once); the answer settles the
request. A failure frees the capacity and is kept as a shift error.
"""
from __future__ import annotations

import logging
import random
import time
from datetime import datetime, timedelta

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from core.enqueue import task_enqueue
from core.errors import AccessDenied
from core.logs import entity_log
from core.realtime import emit
from inbox import sending
from inbox.models import ActivityRequest
from inbox.services.delivery import CHANNEL_RATE_LOCK
from inbox.services.dispatch import shift_issues
from platforms import service
from platforms.base import SendResult
from salesreps import rules
from salesreps.models import ActivityRecord, SalesRepChannel, SalesRepChannelActivity
from salesreps.selectors import can_manage, capacity_of, channel_usage, manager_user_ids, rep_of, reps_for
from salesreps.services import Performed, ShiftIssue, activities_record_unchecked, allowance_store, records_release, shift_errors_record

log = entity_log("activities")
logger = logging.getLogger("switchboard.activities")
MAX_ATTEMPTS = 5
TARGET_MAX = 2000


def activity_payload(request: ActivityRequest) -> dict:
    return {
        "id": request.id, "rep_channel_id": request.rep_channel_id, "activity": request.activity, "target": request.target,
        "status": request.status, "defer_code": request.defer_code, "defer_reason": request.defer_reason,
        "error_code": request.error_code, "error_title": request.error_title,
        "due_at": request.due_at.isoformat() if request.due_at else None,
        "performed_at": request.performed_at.isoformat() if request.performed_at else None,
    }


def _emit(request: ActivityRequest, rep_channel: SalesRepChannel) -> None:
    emit("activity.updated", activity_payload(request), manager_user_ids(rep_channel.rep) + [rep_channel.rep.user_id])


# ---- request --------------------------------------------------------------------------------


def activity_request_create(*, user, rep_channel_id: int, activity: str, target: str, text: str = "",
                            idempotency_key: str = "") -> tuple[ActivityRequest, bool]:
    """Queue one activity for a rep-channel: a rep on their own, a manager on their team's reps',
    an admin on anyone's. (request, created): a repeated Idempotency-Key returns the first one."""
    rep_channel = (SalesRepChannel.objects.filter(pk=rep_channel_id, rep__in=reps_for(user))
                   .select_related("channel", "rep").first())
    if rep_channel is None:
        raise AccessDenied(f"rep-channel {rep_channel_id} not found")
    if rep_of(user) != rep_channel.rep and not can_manage(user, rep_channel.rep):
        raise AccessDenied("only the rep, their managers and admins may request activities on this rep-channel")
    if idempotency_key:
        found = ActivityRequest.objects.filter(rep_channel=rep_channel, idempotency_key=idempotency_key).first()
        if found:
            return found, False
    offered = sorted(rep_channel.channel.activities.values_list("name", flat=True))
    if activity == "message":
        raise ValidationError({"activity": "'message' is sent through a conversation (POST /api/conversations/<id>/messages/)"})
    if activity not in offered:
        raise ValidationError({"activity": f"channel {rep_channel.channel.name!r} has no activity {activity!r} "
                                           f"(it has: {', '.join(a for a in offered if a != 'message') or 'none but message'})"})
    if not target.strip():
        raise ValidationError({"target": f"{activity} needs a target: the post URL, the broadcast's text…"})
    if len(target) > TARGET_MAX:
        raise ValidationError({"target": f"target is {len(target)} characters long (at most {TARGET_MAX})"})
    try:
        with transaction.atomic():
            request = ActivityRequest.objects.create(
                rep_channel=rep_channel, activity=activity, target=target, text=text, requested_by=user,
                idempotency_key=idempotency_key, due_at=timezone.now(), sandbox=rep_channel.sandbox,
            )
            _emit(request, rep_channel)
            transaction.on_commit(lambda: task_enqueue("inbox.tasks.dispatch_due"))
    except IntegrityError:  # a racer with the same key created it first
        return ActivityRequest.objects.get(rep_channel=rep_channel, idempotency_key=idempotency_key), False
    log.info("activity requested", activity_request=request.id, rep_channel=rep_channel.id, activity=activity)
    return request, True


# ---- dispatch -------------------------------------------------------------------------------


def activities_claim_due(*, limit: int = 50, now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(ActivityRequest.objects.select_for_update(skip_locked=True)
                   .filter(Q(status__in=[ActivityRequest.Status.QUEUED, ActivityRequest.Status.DEFERRED], due_at__lte=now)
                           | Q(status=ActivityRequest.Status.SENDING, lease_until__lt=now))
                   .order_by("due_at", "id").values_list("id", flat=True)[:limit])
        if ids:
            ActivityRequest.objects.filter(id__in=ids).update(
                status=ActivityRequest.Status.SENDING, lease_until=now + timedelta(seconds=settings.SEND_LEASE_SECONDS))
    return ids


def activities_dispatch_due(*, now: datetime | None = None, batch: int = 50, max_seconds: float = 20.0) -> int:
    """Decide, perform and record due activity requests for a while (several workers may run this)."""
    started, handled = time.monotonic(), 0
    timeout = httpx.Timeout(settings.PROVIDER_TIMEOUT_SECONDS, connect=5.0)
    with httpx.Client(timeout=timeout) as client:
        while time.monotonic() - started < max_seconds and (ids := activities_claim_due(limit=batch, now=now)):
            for request_id in ids:
                try:
                    going = _reserve(request_id, now or timezone.now())
                    if going is not None:
                        _record(going, _perform(going, client), now or timezone.now())
                except Exception:  # one request's error never holds the others: its lease runs out, it is claimed again
                    logger.exception("activity request %s failed to dispatch", request_id)
            handled += len(ids)
    return handled


def _activity_row(rep_channel: SalesRepChannel, name: str) -> SalesRepChannelActivity | None:
    """The rep-channel's row for the activity (its own window and cap, or none: the rep-channel's)."""
    offered = rep_channel.channel.activities.filter(name=name).first()
    if offered is None:
        return None
    row, _ = SalesRepChannelActivity.objects.select_related("activity").get_or_create(rep_channel=rep_channel, activity=offered)
    return row


def _reserve(request_id: int, now: datetime) -> tuple[ActivityRequest, SalesRepChannel, rules.Capacity] | None:
    with transaction.atomic():
        request = ActivityRequest.objects.select_for_update(of=("self",)).filter(
            pk=request_id, status=ActivityRequest.Status.SENDING).first()
        if request is None:
            return None
        rep_channel = SalesRepChannel.objects.select_for_update(of=("self",)).select_related("rep", "channel").get(pk=request.rep_channel_id)
        channel = rep_channel.channel
        if channel.rate_limit_per_hour is not None or channel.rate_limit_per_day is not None:
            with connection.cursor() as cursor:  # the same lock messages take: every activity counts against the channel
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [CHANNEL_RATE_LOCK, channel.id])
        activity = _activity_row(rep_channel, request.activity)
        if activity is None:
            _fail(request, rep_channel, "activity_unknown", f"channel {channel.name!r} no longer offers {request.activity!r}", now)
            return None
        capacity = capacity_of(rep_channel=rep_channel, activity=activity, at=now)
        if ActivityRecord.objects.filter(activity_request_id=request.id).exists():
            # Decided and reserved by a claim whose worker died before the answer: the service
            # deduplicates on the request's key, so asking again performs it at most once.
            return request, rep_channel, capacity
        usage = channel_usage(channel=channel, at=now)
        decision = sending.decide(sending.SendFacts(
            now=now, channel_kind=channel.kind, has_template=False, contact=sending.ContactFacts(), capacity=capacity,
            rates=tuple(sending.RateUsage(code, u["limit"], u["used"], u["frees_at"]) for code, u in usage.items()),
            last_sent_at=rep_channel.last_sent_at, min_gap_seconds=settings.SEND_MIN_GAP_SECONDS,
            jitter_seconds=settings.SEND_JITTER_SECONDS, rand=random.random(),
        ), checks=sending.ACTIVITY_CHECKS)
        shift_errors_record(shift_issues(decision, rep_channel, capacity, now, what=request.activity))
        if decision.action == "defer":
            request.status, request.due_at, request.lease_until = ActivityRequest.Status.DEFERRED, decision.until, None
            request.defer_code, request.defer_reason = decision.code, decision.reason
            request.save(update_fields=["status", "due_at", "lease_until", "defer_code", "defer_reason"])
            _emit(request, rep_channel)
            log.info("activity deferred", activity_request=request.id, code=decision.code, until=decision.until)
            return None
        for effect in decision.effects:  # performed now: the day is an active warm-up day
            if isinstance(effect, sending.StoreAllowance):
                allowance_store(rep_channel=rep_channel, activity=activity,
                                day=effect.day, allowance=effect.allowance)
        activities_record_unchecked([Performed(rep_channel, activity, capacity.schedule, now, activity_request_id=request.id)])
        rep_channel.last_sent_at = now
        rep_channel.save(update_fields=["last_sent_at"])
        request.attempts += 1
        request.save(update_fields=["attempts"])
    return request, rep_channel, capacity


def _perform(going: tuple[ActivityRequest, SalesRepChannel, rules.Capacity], client: httpx.Client) -> SendResult:
    request, rep_channel, _ = going
    if rep_channel.sandbox:
        return SendResult(ok=True, external_id=f"sandbox-activity-{request.id}", status_code=200, response={"sandbox": True})
    channel = rep_channel.channel
    if not channel.internal_url:
        return SendResult(ok=False, error_code="no_channel_service",
                          error_title=f"channel {channel.name!r} has no internal URL: no service can perform {request.activity}")
    return service.perform(client=client, base_url=channel.internal_url, channel=channel.name, secret=channel.secrets.get("secret", ""),
                           activity=request.activity, target=request.target, text=request.text,
                           rep=rep_channel.username or rep_channel.rep.full_name, idempotency_key=f"switchboard-activity-{request.id}")


def _record(going: tuple[ActivityRequest, SalesRepChannel, rules.Capacity], result: SendResult, now: datetime) -> None:
    request, rep_channel, capacity = going
    with transaction.atomic():
        request = ActivityRequest.objects.select_for_update(of=("self",)).get(pk=request.pk)
        if result.ok:
            request.status, request.external_id, request.performed_at = ActivityRequest.Status.DONE, result.external_id, now
            request.lease_until, request.defer_code, request.defer_reason = None, "", ""
            request.save(update_fields=["status", "external_id", "performed_at", "lease_until", "defer_code", "defer_reason"])
            _emit(request, rep_channel)
            log.info("activity performed", activity_request=request.id, activity=request.activity, sandbox=rep_channel.sandbox)
            return
        why = f"{rep_channel.channel.name}'s service answered {result.error_code or result.status_code}" + (
            f": {result.error_title}" if result.error_title else "")
        if result.retryable and request.attempts < MAX_ATTEMPTS:  # its reservation stays, as a message's does
            backoff = min(600, 2 ** request.attempts) * (0.5 + random.random())
            request.status, request.due_at, request.lease_until = ActivityRequest.Status.QUEUED, now + timedelta(seconds=backoff), None
            request.defer_code, request.defer_reason = "service_retry", f"{why}, retrying"
            request.save(update_fields=["status", "due_at", "lease_until", "defer_code", "defer_reason"])
            _issue(rep_channel, capacity, "service_retry", f"{request.activity} {request.id}: {why}", now)
            _emit(request, rep_channel)
            return
        _fail(request, rep_channel, result.error_code or str(result.status_code), why, now, capacity=capacity)


def _issue(rep_channel: SalesRepChannel, capacity: rules.Capacity, code: str, message: str, now: datetime) -> None:
    shift_errors_record([ShiftIssue(rep_channel.rep_id, rep_channel.id, capacity.day, code, rules.SHIFT_ERROR_LEVELS[code], message, now)])


def _fail(request: ActivityRequest, rep_channel: SalesRepChannel, code: str, reason: str, now: datetime,
          capacity: rules.Capacity | None = None) -> None:
    request.status, request.error_code, request.error_title = ActivityRequest.Status.FAILED, code[:50], reason[:300]
    request.lease_until, request.defer_code, request.defer_reason = None, "", ""
    request.save(update_fields=["status", "error_code", "error_title", "lease_until", "defer_code", "defer_reason"])
    records_release(request_ids=[request.id])
    if capacity is not None:
        _issue(rep_channel, capacity, "service_failed", f"{request.activity} {request.id}: {reason}", now)
    _emit(request, rep_channel)
    log.warning("activity failed", activity_request=request.id, code=code)


def activity_request_retry(*, user, request_id: int) -> ActivityRequest:
    """A failed activity goes through the whole path again."""
    with transaction.atomic():
        request = (ActivityRequest.objects.select_for_update(of=("self",))
                   .filter(pk=request_id, rep_channel__rep__in=reps_for(user)).select_related("rep_channel__rep").first())
        if request is None:
            raise AccessDenied(f"activity request {request_id} not found")
        if request.status != ActivityRequest.Status.FAILED:
            raise ValidationError({"status": f"only failed activities can be retried (this one is {request.status})"})
        request.status, request.due_at, request.error_code, request.error_title, request.attempts = (
            ActivityRequest.Status.QUEUED, timezone.now(), "", "", 0)
        request.save(update_fields=["status", "due_at", "error_code", "error_title", "attempts"])
        _emit(request, request.rep_channel)
        transaction.on_commit(lambda: task_enqueue("inbox.tasks.dispatch_due"))
    return request
