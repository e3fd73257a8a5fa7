"""Conversations: reuse, assignment, read state, status."""
from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from core.errors import AccessDenied
from core.logs import entity_log
from core.realtime import emit
from inbox.models import Contact, Conversation
from inbox.payloads import conversation_payload
from inbox.rules import Candidate, pick_assignee
from inbox.selectors import audience_user_ids, conversations_for
from salesreps.models import Channel, SalesRep, SalesRepChannel
from salesreps.selectors import managed_team_ids

log = entity_log("conversations")


def _assignee(contact: Contact, channel: Channel) -> SalesRep | None:
    rep_channels = SalesRepChannel.objects.filter(channel=channel, rep__user__is_active=True).select_related("rep")
    available_ids = {rc.rep_id for rc in rep_channels if rc.is_available and rc.rep.is_available}
    open_counts = dict(
        SalesRep.objects.filter(id__in=[rc.rep_id for rc in rep_channels])
        .annotate(n=Count("conversations", filter=Q(conversations__status__in=["open", "pending"])))
        .values_list("id", "n")
    )
    candidates = [Candidate(rc.rep_id, rc.rep_id in available_ids, open_counts.get(rc.rep_id, 0)) for rc in rep_channels]
    person_rep = (Conversation.objects.filter(contact=contact, rep__isnull=False).exclude(status="resolved")
                  .order_by("-last_message_at", "-id").values_list("rep_id", flat=True).first())
    chosen = pick_assignee(
        person_rep_id=person_rep,
        owner_id=contact.owner_id,
        owner_available=contact.owner_id is not None and SalesRep.objects.filter(pk=contact.owner_id, user__is_active=True).exists(),
        candidates=candidates,
    )
    return SalesRep.objects.filter(pk=chosen).first() if chosen else None


def conversation_for_contact(*, contact: Contact, channel: Channel, lock: bool = False) -> tuple[Conversation, bool]:
    """The active conversation of (contact, channel), or a new one assigned per DESIGN.md.
    With lock=True the returned row is locked until the caller's transaction ends."""
    active = Conversation.objects.filter(contact=contact, channel=channel).exclude(status="resolved")
    if lock:
        active = active.select_for_update(of=("self",))
    conversation = active.select_related("rep", "contact", "channel").first()
    if conversation is not None:
        return conversation, False
    try:
        with transaction.atomic():
            conversation = Conversation.objects.create(contact=contact, channel=channel, rep=_assignee(contact, channel))
    except IntegrityError:  # a concurrent event opened it
        return active.select_related("rep", "contact", "channel").get(), False
    conversation = Conversation.objects.select_related("rep", "contact", "channel").get(pk=conversation.pk)
    emit("conversation.created", conversation_payload(conversation), audience_user_ids(conversation))
    log.info("conversation created", conversation=conversation.id, contact=contact.id, rep=conversation.rep_id)
    return conversation, True


def conversation_emit_updated(conversation: Conversation) -> None:
    emit("conversation.updated", conversation_payload(conversation), audience_user_ids(conversation))


def conversation_get_for(*, user, conversation_id: int, lock: bool = False) -> Conversation:
    qs = conversations_for(user).select_related("rep", "contact", "channel")
    if lock:
        qs = qs.select_for_update(of=("self",))
    conversation = qs.filter(pk=conversation_id).first()
    if conversation is None:
        raise AccessDenied(f"conversation {conversation_id} not found")
    return conversation


@transaction.atomic
def conversation_mark_read(*, user, conversation_id: int) -> Conversation:
    conversation = conversation_get_for(user=user, conversation_id=conversation_id, lock=True)
    if conversation.unread_count:
        conversation.unread_count = 0
        conversation.save(update_fields=["unread_count"])
    conversation_emit_updated(conversation)
    return conversation


@transaction.atomic
def conversation_mark_unread(*, user, conversation_id: int) -> Conversation:
    """The rep flags a conversation to come back to: it counts as unread (at least one) until read again."""
    conversation = conversation_get_for(user=user, conversation_id=conversation_id, lock=True)
    if not conversation.unread_count:
        conversation.unread_count = 1
        conversation.save(update_fields=["unread_count"])
    conversation_emit_updated(conversation)
    return conversation


@transaction.atomic
def conversation_assign(*, user, conversation_id: int, rep_id: int | None) -> Conversation:
    """Managers reassign within their team, admins anywhere. The previous rep stops seeing it at once:
    every later event is addressed from the new assignment."""

    conversation = conversation_get_for(user=user, conversation_id=conversation_id, lock=True)
    teams = managed_team_ids(user)
    if teams == frozenset():
        raise AccessDenied("only the managers of a team and admins assign conversations")
    new_rep = None
    if rep_id is not None:
        reps = SalesRep.objects.all() if teams is None else SalesRep.objects.filter(team_id__in=teams)
        new_rep = reps.filter(pk=rep_id).first()
        if new_rep is None:
            raise ValueError(f"rep {rep_id} is not one you can assign to")
    previous_audience = set(audience_user_ids(conversation))
    previous_rep_id = conversation.rep_id
    conversation.rep = new_rep
    conversation.save(update_fields=["rep"])
    audience = audience_user_ids(conversation)
    emit("conversation.assigned", {"conversation": conversation_payload(conversation), "previous_rep_id": previous_rep_id},
         sorted(previous_audience | set(audience)))
    log.info("conversation assigned", conversation=conversation.id, rep=rep_id, previous_rep=previous_rep_id, by_user=user.id)
    return conversation


@transaction.atomic
def conversation_set_status(*, user, conversation_id: int, status: str, snoozed_until=None) -> Conversation:
    if status not in Conversation.Status.values:
        raise ValueError(f"status must be one of {', '.join(Conversation.Status.values)}")
    if status == "snoozed" and (snoozed_until is None or snoozed_until <= timezone.now()):
        raise ValueError("snoozed_until must be a time in the future when snoozing")
    conversation = conversation_get_for(user=user, conversation_id=conversation_id, lock=True)
    if status == "open" or status == "pending" or status == "snoozed":
        clash = Conversation.objects.filter(contact=conversation.contact, channel=conversation.channel).exclude(
            status="resolved").exclude(pk=conversation.pk).exists()
        if clash:
            raise ValueError("another conversation with this contact on this channel is already open")
    conversation.status = status
    conversation.snoozed_until = snoozed_until if status == "snoozed" else None
    conversation.save(update_fields=["status", "snoozed_until"])
    conversation_emit_updated(conversation)
    return conversation


def conversations_wake_snoozed() -> int:
    """Reopen conversations whose snooze has run out (Celery beat)."""
    woken = 0
    for conversation_id in Conversation.objects.filter(status="snoozed", snoozed_until__lte=timezone.now()).values_list("id", flat=True):
        with transaction.atomic():
            conversation = Conversation.objects.select_for_update(of=("self",)).select_related("rep", "contact", "channel").get(pk=conversation_id)
            if conversation.status != "snoozed":
                continue
            conversation.status, conversation.snoozed_until = "open", None
            conversation.save(update_fields=["status", "snoozed_until"])
            conversation_emit_updated(conversation)
            woken += 1
    return woken
