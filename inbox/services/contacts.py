"""Contacts and their per-channel identities."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone

from core.errors import AccessDenied
from core.logs import entity_log
from inbox.contact_import import ContactRow, RowError, normalize_phone, parse_contacts_csv
from inbox.models import Contact, ContactIdentity, Suppression
from inbox.rules import phone_place
from inbox.selectors import contacts_for
from platforms import get_adapter
from salesreps.models import Channel, SalesRep
from salesreps.selectors import is_manager_or_admin, managed_team_ids, rep_of

log = entity_log("contacts")


def _address(channel: Channel, external_id: str, phone: str, email: str) -> str:
    """The normalized address a channel's contact id stands for (E.164 phone, lower-cased e-mail),
    else the phone or e-mail the platform told; "" for a page-scoped id with nothing else known."""
    adapter = get_adapter(channel.kind)
    return (adapter.address_of(contact_id=external_id) if adapter else "") or phone or email.strip().lower()


def contacts_at(address: str) -> QuerySet[Contact]:
    """Contacts with this address, most recent first."""
    if not address:
        return Contact.objects.none()
    match = Q(phone=address) if address.startswith("+") else Q(email__iexact=address)
    return Contact.objects.filter(match).order_by("-id")


def suppressed(addresses: Iterable[str]) -> Suppression | None:
    wanted = [a for a in addresses if a]
    return Suppression.objects.filter(address__in=wanted).order_by("id").first() if wanted else None


def _new_contact(*, address: str, name: str, phone: str, email: str, team_id: int | None) -> Contact:
    phone = phone or (address if address.startswith("+") else "")
    email = email or (address if "@" in address else "")
    tz, country = phone_place(phone) if phone else ("", "")
    contact = Contact(name=name, phone=phone, email=email.lower(), timezone=tz or "UTC", country=country, team_id=team_id)
    suppression = suppressed([phone, email.lower()])
    if suppression:  # consent follows the person: this address opted out before
        contact.opted_out, contact.opted_out_at, contact.opt_out_reason = True, suppression.created_at, suppression.reason
    contact.save()
    return contact


def contact_resolve(*, channel: Channel, external_id: str, name: str = "", phone: str = "", email: str = "") -> Contact:
    """The contact behind (channel, external id): by that identity, else by the address it stands
    for (the identity is attached), else created. Concurrent first deliveries from one address
    serialise on a transaction-scoped advisory lock of the address, so they find one contact.
    Two contacts at one address: the most recent gets the identity, and the pair is listed for a
    manager to merge (duplicate_groups); nothing merges silently. A contact created here belongs
    to the channel's team."""
    identity = ContactIdentity.objects.select_related("contact").filter(channel=channel, external_id=external_id).first()
    if identity is None:
        address = _address(channel, external_id, phone, email)
        try:
            with transaction.atomic():
                if address:
                    with connection.cursor() as cursor:
                        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"contact:{address}"])
                    identity = ContactIdentity.objects.select_related("contact").filter(
                        channel=channel, external_id=external_id).first()
                if identity is None:
                    matches = list(contacts_at(address)[:2])
                    contact = matches[0] if matches else _new_contact(address=address, name=name, phone=phone, email=email,
                                                                            team_id=channel.team_id)
                    ContactIdentity.objects.create(contact=contact, channel=channel, external_id=external_id)
                    if len(matches) > 1:
                        log.warning("contact match is ambiguous: listed for a manager to merge", contact=contact.id,
                                    other=matches[1].id, channel=channel.id, external_id=external_id)
                    log.info("contact identity attached" if matches else "contact created", contact=contact.id,
                             channel=channel.id, external_id=external_id)
                    return contact_freshen(contact, name=name, phone=phone, email=email)
        except IntegrityError:  # a concurrent delivery attached the identity first
            identity = ContactIdentity.objects.select_related("contact").get(channel=channel, external_id=external_id)
    return contact_freshen(identity.contact, name=name, phone=phone, email=email)


def contact_freshen(contact: Contact, *, name: str, phone: str, email: str) -> Contact:
    """Keep the platform's profile name fresh; fill a phone or address we did not know yet."""
    changes = {"name": name} if name and contact.name != name else {}
    if phone and not contact.phone:
        changes["phone"] = phone
    if email and not contact.email:
        changes["email"] = email.lower()
    if changes:
        Contact.objects.filter(pk=contact.pk).update(**changes)
        for field, value in changes.items():
            setattr(contact, field, value)
    return contact


def identity_record(*, contact_id: int, channel: Channel, address: str) -> None:
    """After a send to `address`: the identity the platform will use for the person, so the reply
    finds this contact (a wa_id has no "+", Twilio's From has one). An identity already held by
    another contact is left alone: that is a merge for a manager, not a silent move."""
    adapter = get_adapter(channel.kind)
    external_id = adapter.contact_id_for(address=address) if adapter else ""
    if external_id:
        ContactIdentity.objects.get_or_create(channel=channel, external_id=external_id, defaults={"contact_id": contact_id})


def contact_addresses(contact: Contact) -> set[str]:
    """Every address the person is known by: phone, e-mail and what each identity stands for."""
    found = {contact.phone, (contact.email or "").lower()}
    for identity in contact.identities.select_related("channel"):
        adapter = get_adapter(identity.channel.kind)
        found.add(adapter.address_of(contact_id=identity.external_id) if adapter else "")
    return {a for a in found if a}


def contact_suppress(*, contact: Contact, reason: str) -> None:
    """Remember every address of an opted-out contact, so any later contact for them inherits it."""
    Suppression.objects.bulk_create([Suppression(address=a, reason=reason[:50], contact=contact) for a in contact_addresses(contact)],
                                    ignore_conflicts=True)


def contact_opt_out(*, contact: Contact, reason: str) -> None:
    """Keyword, unsubscribe, complaint or by hand: the contact (every identity it has) and each of
    its addresses are opted out."""
    if not contact.opted_out:
        now = timezone.now()
        Contact.objects.filter(pk=contact.pk).update(opted_out=True, opted_out_at=now, opt_out_reason=reason)
        contact.opted_out, contact.opted_out_at, contact.opt_out_reason = True, now, reason
        log.info("contact opted out", contact=contact.id, reason=reason)
    contact_suppress(contact=contact, reason=reason)


# ---- the API's write path ------------------------------------------------------------------------

# Columns a caller may write directly; everything else is derived (lead score, opt-out time, identities).
CONTACT_FIELDS = frozenset({
    "name", "phone", "email", "country", "operator_code", "tags", "source", "timezone",
    "allowed_start", "allowed_end", "quiet_start", "quiet_end", "language",
})
# Kept in Contact.preferences (JSON); escalation_* drive campaign follow-up steps (campaigns/services/sequences.py).
PREFERENCE_FIELDS = frozenset({"opt_ins", "opt_outs", "opt_out_purposes", "escalation_channels", "escalation_delay_hours"})
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
    """A rep may name only themselves (on a new contact), a manager the reps of the teams they
    manage, an admin anyone."""
    actor = _actor(user)
    teams = managed_team_ids(user)
    allowed = SalesRep.objects.all() if teams is None else SalesRep.objects.filter(Q(pk=actor.pk) | Q(team_id__in=teams))
    owner = allowed.filter(pk=owner_id).first()
    if owner is None:
        raise ValidationError({"owner": f"rep {owner_id} is not a rep you can give contacts to"})
    return owner


def _owner_set(contact: Contact, *, user, owner_id: int | None, creating: bool) -> None:
    """Only the managers of the contact's team and admins change who owns a contact (owning it
    keeps it in the owner's view and brings them its every new conversation); a rep's new contact
    is theirs. The contact follows its owner into the owner's team."""
    if not creating and owner_id == contact.owner_id:
        return  # written back as it is
    teams = managed_team_ids(user)
    if not creating and teams is not None and contact.team_id not in teams:
        raise PermissionDenied("only the managers of the contact's team and admins change its owner")
    contact.owner = None if owner_id is None else _owner(user, owner_id)
    if contact.owner is not None and contact.owner.team_id is not None:
        contact.team_id = contact.owner.team_id


def _home_team(user) -> int | None:
    """The team a contact the user creates or imports belongs to without an owner's: the user's rep's."""
    rep = rep_of(user)
    return rep.team_id if rep is not None else None


def _check_windows(contact: Contact) -> None:
    for label, start, end in (("allowed", contact.allowed_start, contact.allowed_end),
                              ("quiet", contact.quiet_start, contact.quiet_end)):
        if (start is None) != (end is None):
            raise ValidationError({f"{label}_end": f"{label}_start and {label}_end go together: set both or neither"})
        if start is not None and start == end:
            raise ValidationError({f"{label}_end": f"{label}_start equals {label}_end: the window would be empty"})


def _apply(contact: Contact, *, user, fields: dict, preferences: dict | None, owner_id, opted_out: bool | None,
           creating: bool = False) -> None:
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
        _owner_set(contact, user=user, owner_id=owner_id, creating=creating)
    if opted_out is True and not contact.opted_out:
        contact.opted_out, contact.opted_out_at, contact.opt_out_reason = True, timezone.now(), "manual"
    elif opted_out is False and contact.opted_out:
        if not is_manager_or_admin(user):
            raise PermissionDenied("only a manager or an admin can opt a contact back in")
        contact.opted_out, contact.opted_out_at, contact.opt_out_reason = False, None, ""
    _check_windows(contact)
    contact.full_clean(exclude=["owner", "team"])


def _inherit_consent(contact: Contact) -> None:
    """A phone or address that opted out before keeps this contact opted out too."""
    suppression = None if contact.opted_out else suppressed([contact.phone, (contact.email or "").lower()])
    if suppression:
        contact.opted_out, contact.opted_out_at, contact.opt_out_reason = True, suppression.created_at, suppression.reason


def _still_visible(user, contact: Contact) -> None:
    if not contacts_for(user).filter(pk=contact.pk).exists():
        raise ValueError("this change would take the contact out of your own view: give it an owner you manage")


@transaction.atomic
def contact_create(*, user, fields: dict, preferences: dict | None = None, owner_id=UNSET,
                   opted_out: bool | None = None) -> Contact:
    """A new contact, owned by the caller's rep unless an owner the caller may choose is given; it
    belongs to the owner's team, else to the caller's."""
    actor = _actor(user)
    if owner_id is UNSET and actor is not None and not user.is_superuser:
        owner_id = actor.pk
    contact = Contact(source="api", team_id=_home_team(user))
    _apply(contact, user=user, fields=fields, preferences=preferences, owner_id=owner_id, opted_out=opted_out, creating=True)
    _inherit_consent(contact)
    contact.save()
    if contact.opted_out:
        contact_suppress(contact=contact, reason=contact.opt_out_reason or "manual")
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
    was_opted_out = contact.opted_out
    _apply(contact, user=user, fields=fields, preferences=preferences, owner_id=owner_id, opted_out=opted_out)
    if not was_opted_out:
        _inherit_consent(contact)
    contact.save()
    if was_opted_out and not contact.opted_out:  # a manager opted the person back in, on every address
        Suppression.objects.filter(address__in=contact_addresses(contact)).delete()
    elif contact.opted_out:
        contact_suppress(contact=contact, reason=contact.opt_out_reason or "manual")
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


@dataclass
class ImportReport:
    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)  # rows that matched a contact by phone or e-mail
    errors: list[RowError] = field(default_factory=list)


def _matches(rows: list[ContactRow], scope: QuerySet[Contact]) -> tuple[dict[str, Contact], dict[str, Contact]]:
    """Contacts of `scope` by phone and by lower-cased e-mail (the most recent one per address)."""
    phones = [r.phone for r in rows if r.phone]
    emails = [r.email.lower() for r in rows if r.email]
    by_phone: dict[str, Contact] = {}
    by_email: dict[str, Contact] = {}
    for i in range(0, max(len(phones), len(emails)), 10000):
        found = (scope.annotate(address=Lower("email"))
                 .filter(Q(phone__in=phones[i:i + 10000]) | Q(address__in=emails[i:i + 10000])).order_by("id"))
        for contact in found:
            if contact.phone:
                by_phone[contact.phone] = contact
            if contact.email:
                by_email[contact.email.lower()] = contact
    return by_phone, by_email


def contacts_import_rows(*, rows: list[ContactRow], owner: SalesRep | None, source: str,
                         scope: QuerySet[Contact] | None = None, team_id: int | None = None, progress=None) -> ImportReport:
    """Rows that match an existing contact (same phone, else same e-mail) update it — name, tags,
    a missing phone or address, a zone or country where the file says — and never duplicate it;
    the rest are created in `team_id`, opted out where their address opted out before. With
    `scope`, only its contacts match: a contact outside it is not revealed (not even that it
    exists), and the row creates the caller's own contact, listed with the other for an admin to
    merge (duplicate_groups). Caller is in a transaction and rejects on errors."""
    by_phone, by_email = _matches(rows, Contact.objects.all() if scope is None else scope)
    report, new, changed = ImportReport(), [], {}
    for row in rows:
        match = by_phone.get(row.phone) or by_email.get(row.email.lower())
        if match is None:
            contact = Contact(name=row.name, phone=row.phone, email=row.email, timezone=row.timezone, tags=list(row.tags),
                              country=row.country, owner=owner, source=source, team_id=team_id)
            _inherit_consent(contact)
            new.append(contact)
        else:
            match.name = row.name or match.name
            match.phone, match.email = match.phone or row.phone, match.email or row.email
            match.tags = list(dict.fromkeys([*match.tags, *row.tags]))
            if row.timezone != "UTC":
                match.timezone = row.timezone
            match.country = row.country or match.country
            changed[match.pk] = match
    if report.errors:
        return report
    for i in range(0, len(new), 2000):
        report.created += [c.pk for c in Contact.objects.bulk_create(new[i:i + 2000])]
        if progress:
            progress(len(new[i:i + 2000]))
    Contact.objects.bulk_update(list(changed.values()), ["name", "phone", "email", "tags", "timezone", "country"], batch_size=2000)
    if progress and changed:
        progress(len(changed))
    report.updated = sorted(changed)
    for contact in new:
        if contact.opted_out:
            contact_suppress(contact=contact, reason=contact.opt_out_reason)
    return report


@transaction.atomic
def contact_import(*, user, data: bytes | str) -> ImportReport:
    """All or nothing: any bad row rejects the whole file; rows matching a contact the caller may
    see update it (the report names them); the others create contacts owned by the caller's rep,
    in its team."""
    actor = _actor(user)
    rows, errors = parse_contacts_csv(data)
    if errors:
        raise ContactImportRejected([error.as_dict() for error in errors])
    owner = None if user.is_superuser else actor
    report = contacts_import_rows(rows=rows, owner=owner, source="import", scope=contacts_for(user), team_id=_home_team(user))
    if report.errors:
        raise ContactImportRejected([error.as_dict() for error in report.errors])
    log.info("contacts imported", count=len(report.created), updated=len(report.updated), owner=owner.id if owner else None,
             by_user=user.id)
    return report
