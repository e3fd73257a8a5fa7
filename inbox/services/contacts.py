"""Contacts and their per-channel identities."""
from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.logs import entity_log
from inbox.models import Contact, ContactIdentity
from salesreps.models import Channel

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
    if name and contact.name != name:
        Contact.objects.filter(pk=contact.pk).update(name=name)
        contact.name = name
    return contact


def contact_opt_out(*, contact: Contact, reason: str) -> None:
    if contact.opted_out:
        return
    now = timezone.now()
    Contact.objects.filter(pk=contact.pk).update(opted_out=True, opted_out_at=now, opt_out_reason=reason)
    contact.opted_out, contact.opted_out_at, contact.opt_out_reason = True, now, reason
    log.info("contact opted out", contact=contact.id, reason=reason)
