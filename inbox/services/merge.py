"""Two contacts that are one person become one (DESIGN.md "One person, one contact").

The duplicate's identities, conversations and messages move onto the kept contact, consent keeps
the stricter side (an opt-out on either wins), the profile fills its blanks from the duplicate,
campaigns move their recipients and rescore through `inbox.hooks.contacts_merged`, the inbox
hears of every conversation that changed contact, and a ContactMerge row says who merged what.
"""
from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import OperationalError, transaction
from django.db.models import F

from core.errors import AccessDenied
from core.logs import entity_log
from core.realtime import emit_many
from inbox import hooks
from inbox.models import Contact, ContactIdentity, ContactMerge, Conversation, Message
from inbox.payloads import conversation_payload
from inbox.selectors import audience_user_ids, contacts_for
from inbox.services.contacts import contact_suppress
from salesreps.selectors import is_manager_or_admin

log = entity_log("contacts")
PROFILE_FIELDS = ("name", "phone", "email", "country", "operator_code", "source", "language",
                  "allowed_start", "allowed_end", "quiet_start", "quiet_end")


def _merged_preferences(keep: dict, other: dict) -> dict:
    """Opt-outs add up; an opt-in survives only where neither side opted out; the rest: keep's wins."""
    merged = {**(other or {}), **(keep or {})}
    for key in ("opt_outs", "opt_out_purposes"):
        merged[key] = sorted(set(keep.get(key, [])) | set(other.get(key, [])))
    merged["opt_ins"] = sorted((set(keep.get("opt_ins", [])) | set(other.get("opt_ins", []))) - set(merged["opt_outs"]))
    return {k: v for k, v in merged.items() if v != [] or k in keep or k in other}


def _fold_conversation(source: Conversation, target: Conversation) -> None:
    """The duplicate's open conversation on a channel where the kept contact has one too: its
    messages join the kept one, whose counters and times take in the source's."""
    Message.objects.filter(conversation=source).update(conversation=target)
    Conversation.objects.filter(pk=target.pk).update(unread_count=F("unread_count") + source.unread_count)
    fields = {}
    for field in ("last_message_at", "last_inbound_at"):
        theirs, ours = getattr(source, field), getattr(target, field)
        if theirs and (ours is None or theirs > ours):
            fields[field] = theirs
            if field == "last_message_at":
                fields["last_message_preview"] = source.last_message_preview
    if fields:
        Conversation.objects.filter(pk=target.pk).update(**fields)
    source.delete()


def contacts_merge(*, keep_id: int, duplicate_id: int, by_user=None, reason: str = "manual") -> ContactMerge:
    """Merge contact `duplicate_id` into `keep_id`. A deadlock with a worker writing the same
    conversations (PostgreSQL aborts one side) is retried: the merge is one transaction."""
    for attempt in range(3):
        try:
            return _merge(keep_id=keep_id, duplicate_id=duplicate_id, by_user=by_user, reason=reason)
        except OperationalError as exc:
            if "deadlock detected" not in str(exc) or attempt == 2:
                raise
    raise AssertionError("unreachable")


@transaction.atomic
def _merge(*, keep_id: int, duplicate_id: int, by_user, reason: str) -> ContactMerge:
    """Both contacts row-locked in id order for the whole move."""
    if keep_id == duplicate_id:
        raise ValueError("a contact cannot be merged into itself")
    locked = {c.pk: c for c in Contact.objects.select_for_update().filter(pk__in=[keep_id, duplicate_id]).order_by("pk")}
    if len(locked) != 2:
        missing = sorted({keep_id, duplicate_id} - set(locked))
        raise AccessDenied(f"contact {missing[0]} not found")
    keep, duplicate = locked[keep_id], locked[duplicate_id]
    identities = ContactIdentity.objects.filter(contact=duplicate).update(contact=keep)
    active = {c.channel_id: c for c in Conversation.objects.select_for_update()
              .filter(contact=keep).exclude(status=Conversation.Status.RESOLVED)}
    changed, folded = [], 0
    for conversation in Conversation.objects.select_for_update().filter(contact=duplicate).order_by("id"):
        target = active.get(conversation.channel_id) if conversation.status != Conversation.Status.RESOLVED else None
        if target is not None:
            _fold_conversation(conversation, target)
            changed.append(target.pk)
            folded += 1
        else:
            Conversation.objects.filter(pk=conversation.pk).update(contact=keep)
            changed.append(conversation.pk)
    updates = {f: getattr(duplicate, f) for f in PROFILE_FIELDS if not getattr(keep, f) and getattr(duplicate, f)}
    if keep.timezone == "UTC" and duplicate.timezone != "UTC":
        updates["timezone"] = duplicate.timezone  # UTC is the default, not a fact about the person
    if keep.owner_id is None and duplicate.owner_id is not None:
        updates["owner_id"] = duplicate.owner_id
    if keep.team_id is None and duplicate.team_id is not None:
        updates["team_id"] = duplicate.team_id  # a team's contact merged into nobody's stays the team's
    if duplicate.opted_out and not keep.opted_out:
        updates.update(opted_out=True, opted_out_at=duplicate.opted_out_at, opt_out_reason=duplicate.opt_out_reason)
    if duplicate.last_inbound_at and (keep.last_inbound_at is None or duplicate.last_inbound_at > keep.last_inbound_at):
        updates["last_inbound_at"] = duplicate.last_inbound_at
    updates["tags"] = sorted(set(keep.tags) | set(duplicate.tags))
    updates["preferences"] = _merged_preferences(keep.preferences or {}, duplicate.preferences or {})
    updates["converted"] = keep.converted or duplicate.converted
    Contact.objects.filter(pk=keep.pk).update(**updates)
    for field, value in updates.items():
        setattr(keep, field, value)
    moved = {"identities": identities, "conversations": len(changed), "conversations_folded": folded}
    for answer in hooks.contacts_merged.call(keep_id=keep.pk, duplicate_id=duplicate.pk):
        moved.update(answer or {})
    record = ContactMerge.objects.create(
        kept=keep, merged_contact_id=duplicate.pk, merged_name=duplicate.name, merged_phone=duplicate.phone,
        merged_email=duplicate.email, by_user=by_user if by_user and by_user.is_authenticated else None,
        reason=reason, moved=moved,
    )
    duplicate.delete()
    if keep.opted_out:
        contact_suppress(contact=keep, reason=keep.opt_out_reason or "merged")
    _emit_changed(changed)
    log.info("contacts merged", contact=keep.pk, merged=duplicate_id, by_user=getattr(by_user, "id", None),
             reason=reason, **moved)
    return record


def _emit_changed(conversation_ids: list[int]) -> None:
    """One conversation.updated per conversation that now shows another contact."""
    for conversation in Conversation.objects.filter(pk__in=conversation_ids).select_related("contact", "channel", "rep"):
        emit_many([("conversation.updated", conversation_payload(conversation))], audience_user_ids(conversation))


def contact_merge_for(*, user, keep_id: int, duplicate_id: int) -> ContactMerge:
    """The API's merge: managers and admins, both contacts in their scope."""
    if not is_manager_or_admin(user):
        raise PermissionDenied("only managers and admins merge contacts")
    visible = set(contacts_for(user).filter(pk__in=[keep_id, duplicate_id]).values_list("pk", flat=True))
    for contact_id in (keep_id, duplicate_id):
        if contact_id not in visible:
            raise AccessDenied(f"contact {contact_id} not found")
    return contacts_merge(keep_id=keep_id, duplicate_id=duplicate_id, by_user=user)
