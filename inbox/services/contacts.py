"""Contacts and their per-channel identities."""
from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import AccessDenied
from core.logs import entity_log
from inbox.contact_import import normalize_phone, parse_contacts_csv
from inbox.models import Contact, ContactIdentity
from inbox.selectors import contacts_for
from salesreps.models import Channel, SalesRep
from salesreps.selectors import is_manager_or_admin, rep_of

log = entity_log("contacts")


def contact_resolve(*, channel: Channel, external_id: str, name: str = "", phone: str = "", email: str = "") -> Contact:
    """The contact behind (channel, external id), created on first sight; profile name kept fresh."""
    identity = ContactIdentity.objects.select_related("contact").filter(channel=channel, external_id=external_id).first()
    if identity is None:
        try:
            with transaction.atomic():
                contact = Contact.objects.create(name=name, phone=phone, email=email)
                ContactIdentity.objects.create(contact=contact, channel=channel, external_id=external_id)
                log.info("contact created", contact=contact.id, channel=channel.id, external_id=external_id)
                return contact
        except IntegrityError:  # a concurrent delivery created it first
            identity = ContactIdentity.objects.select_related("contact").get(channel=channel, external_id=external_id)
    contact = identity.contact
    # Keep the platform's profile name fresh; fill a phone or address we did not know yet.
    changes = {"name": name} if name and contact.name != name else {}
    if phone and not contact.phone:
        changes["phone"] = phone
    if email and not contact.email:
        changes["email"] = email
    if changes:
        Contact.objects.filter(pk=contact.pk).update(**changes)
        for field, value in changes.items():
            setattr(contact, field, value)
    return contact


def contact_opt_out(*, contact: Contact, reason: str) -> None:
    if contact.opted_out:
        return
    now = timezone.now()
    Contact.objects.filter(pk=contact.pk).update(opted_out=True, opted_out_at=now, opt_out_reason=reason)
    contact.opted_out, contact.opted_out_at, contact.opt_out_reason = True, now, reason
    log.info("contact opted out", contact=contact.id, reason=reason)


# ---- the API's write path ------------------------------------------------------------------------

# Columns a caller may write directly; everything else is derived (lead score, opt-out time, identities).
CONTACT_FIELDS = frozenset({
    "name", "phone", "email", "country", "operator_code", "tags", "source", "timezone",
    "allowed_start", "allowed_end", "quiet_start", "quiet_end", "language",
})
# Kept in Contact.preferences (JSON); escalation_* drive campaign follow-up steps (campaigns/services/sequences.py).
PREFERENCE_FIELDS = frozenset({"opt_ins", "opt_outs", "escalation_channels", "escalation_delay_hours"})
UNSET = object()


class ContactImportRejected(Exception):
    """A CSV with at least one bad row: nothing was imported; `errors` lists every problem."""

    def __init__(self, errors: list[dict]):
        super().__init__(f"{len(errors)} problem(s) in the file: nothing was imported")
        self.errors = errors


def _actor(user):
    """The caller's rep (None for an admin without one); PermissionDenied for users with no role."""

    rep = rep_of(user)
    if rep is None and not user.is_superuser:
        raise PermissionDenied("only reps, managers and admins manage contacts")
    return rep


def _owner(user, owner_id: int) -> SalesRep:
    """A rep may give contacts only to themselves, a manager to the reps of their team, an admin to anyone."""
    actor = _actor(user)
    if user.is_superuser:
        allowed = SalesRep.objects.all()
    elif actor.is_manager and actor.team_id:
        allowed = SalesRep.objects.filter(team_id=actor.team_id)
    else:
        allowed = SalesRep.objects.filter(pk=actor.pk)
    owner = allowed.filter(pk=owner_id).first()
    if owner is None:
        raise ValidationError({"owner": f"rep {owner_id} is not a rep you can give contacts to"})
    return owner


def _check_windows(contact: Contact) -> None:
    for label, start, end in (("allowed", contact.allowed_start, contact.allowed_end),
                              ("quiet", contact.quiet_start, contact.quiet_end)):
        if (start is None) != (end is None):
            raise ValidationError({f"{label}_end": f"{label}_start and {label}_end go together: set both or neither"})
        if start is not None and start == end:
            raise ValidationError({f"{label}_end": f"{label}_start equals {label}_end: the window would be empty"})


def _apply(contact: Contact, *, user, fields: dict, preferences: dict | None, owner_id, opted_out: bool | None) -> None:
    unknown = set(fields) - CONTACT_FIELDS
    if unknown:
        raise ValueError(f"unknown contact fields: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        setattr(contact, name, value)
    if fields.get("phone"):

        try:
            contact.phone = normalize_phone(contact.phone, contact.country)
        except ValueError as exc:
            raise ValidationError({"phone": str(exc)}) from None
    if preferences:
        unknown = set(preferences) - PREFERENCE_FIELDS
        if unknown:
            raise ValueError(f"unknown preferences: {', '.join(sorted(unknown))}")
        contact.preferences = {**(contact.preferences or {}), **preferences}
    prefs = contact.preferences or {}
    both = set(prefs.get("opt_ins", [])) & set(prefs.get("opt_outs", []))
    if both:
        raise ValidationError({"opt_outs": f"a channel kind cannot be both opted in and opted out: {', '.join(sorted(both))}"})
    if owner_id is not UNSET:
        contact.owner = None if owner_id is None else _owner(user, owner_id)
    if opted_out is True and not contact.opted_out:
        contact.opted_out, contact.opted_out_at, contact.opt_out_reason = True, timezone.now(), "manual"
    elif opted_out is False and contact.opted_out:
        if not is_manager_or_admin(user):
            raise PermissionDenied("only a manager or an admin can opt a contact back in")
        contact.opted_out, contact.opted_out_at, contact.opt_out_reason = False, None, ""
    _check_windows(contact)
    contact.full_clean(exclude=["owner"])


def _still_visible(user, contact: Contact) -> None:
    if not contacts_for(user).filter(pk=contact.pk).exists():
        raise ValueError("this change would take the contact out of your own view: give it an owner you manage")


@transaction.atomic
def contact_create(*, user, fields: dict, preferences: dict | None = None, owner_id=UNSET,
                   opted_out: bool | None = None) -> Contact:
    """A new contact, owned by the caller's rep unless an owner the caller may choose is given."""
    actor = _actor(user)
    if owner_id is UNSET and actor is not None and not user.is_superuser:
        owner_id = actor.pk
    contact = Contact(source="api")
    _apply(contact, user=user, fields=fields, preferences=preferences, owner_id=owner_id, opted_out=opted_out)
    contact.save()
    _still_visible(user, contact)
    log.info("contact created", contact=contact.id, owner=contact.owner_id, by_user=user.id)
    return contact


@transaction.atomic
def contact_update(*, user, contact_id: int, fields: dict, preferences: dict | None = None, owner_id=UNSET,
                   opted_out: bool | None = None) -> Contact:

    _actor(user)
    contact = Contact.objects.select_for_update().filter(pk=contact_id, pk__in=contacts_for(user).values("id")).first()
    if contact is None:
        raise AccessDenied(f"contact {contact_id} not found")
    _apply(contact, user=user, fields=fields, preferences=preferences, owner_id=owner_id, opted_out=opted_out)
    contact.save()
    _still_visible(user, contact)
    log.info("contact updated", contact=contact.id, fields=",".join(sorted(fields)), by_user=user.id)
    return contact


@transaction.atomic
def contact_delete(*, user, contact_id: int) -> None:
    """Managers and admins only: a contact's conversations and messages go with it."""

    contact = contacts_for(user).filter(pk=contact_id).first()
    if contact is None:
        raise AccessDenied(f"contact {contact_id} not found")
    if not is_manager_or_admin(user):
        raise PermissionDenied("only a manager or an admin can delete a contact")
    contact.delete()
    log.info("contact deleted", contact=contact_id, by_user=user.id)


@transaction.atomic
def contact_import(*, user, data: bytes | str) -> list[Contact]:
    """All or nothing: any bad row (or a phone already stored) rejects the whole file."""

    actor = _actor(user)
    rows, errors = parse_contacts_csv(data)
    if not errors:
        phones = [row.phone for row in rows if row.phone]
        taken = set(Contact.objects.filter(phone__in=phones).values_list("phone", flat=True))
        errors = [{"row": row.row, "field": "phone", "error": f"a contact with phone {row.phone} already exists"}
                  for row in rows if row.phone in taken]
    else:
        errors = [error.as_dict() for error in errors]
    if errors:
        raise ContactImportRejected(errors)
    owner = None if user.is_superuser else actor
    contacts = Contact.objects.bulk_create([
        Contact(name=row.name, phone=row.phone, email=row.email, timezone=row.timezone, tags=list(row.tags),
                country=row.country, owner=owner, source="import")
        for row in rows
    ])
    log.info("contacts imported", count=len(contacts), owner=owner.id if owner else None, by_user=user.id)
    return contacts
