"""Lead scores kept current: gather a contact's facts, score them (campaigns/scoring.py), store
the score and raise or lower the priority of the contact's waiting messages to match."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from campaigns.models import CampaignRecipient, PendingRescore
from campaigns.scoring import LeadFacts, effective_rules, lead_score
from core.enqueue import task_enqueue
from inbox.models import Contact, Message
from inbox.services.batches import messages_reprioritize

BATCH = 5000


def score_rules() -> dict:
    return effective_rules(getattr(settings, "LEAD_SCORE_RULES", None))


def _facts(contact_ids: list[int]) -> dict[int, tuple[LeadFacts, int]]:
    """contact id → (its facts, its stored score), in three queries for the whole chunk."""
    contacts = Contact.objects.filter(pk__in=contact_ids).values_list("id", "last_inbound_at", "tags", "source", "lead_score")
    replies = dict(Message.objects.filter(conversation__contact_id__in=contact_ids, direction="in")
                   .values("conversation__contact_id").annotate(n=Count("id")).values_list("conversation__contact_id", "n"))
    engagement = {
        row[0]: row[1:]
        for row in CampaignRecipient.objects.filter(contact_id__in=contact_ids).values("contact_id").annotate(
            delivered=Count("id", filter=Q(state__in=["delivered", "read"])),
            read=Count("id", filter=Q(state="read")),
            replied=Count("id", filter=Q(replied_at__isnull=False)),
        ).values_list("contact_id", "delivered", "read", "replied")
    }
    out = {}
    for contact_id, last_inbound, tags, source, stored in contacts:
        delivered, read, replied = engagement.get(contact_id, (0, 0, 0))
        out[contact_id] = (LeadFacts(last_inbound_at=last_inbound, replies=replies.get(contact_id, 0), tags=tuple(tags or ()),
                                     source=source or "", delivered=delivered, read=read, replied=replied), stored)
    return out


def contacts_rescore(*, contact_ids: Iterable[int], now: datetime | None = None) -> dict[int, int]:
    """Recompute and store the scores of these contacts; returns the ones that changed. Waiting
    messages take the new score as priority; rows a worker holds right now are left as they are
    (skip_locked), so a hook never waits on, or deadlocks with, a send in flight."""
    now = now or timezone.now()
    rules = score_rules()
    ids = sorted(set(contact_ids))
    changed: dict[int, int] = {}
    for i in range(0, len(ids), BATCH):
        chunk = ids[i:i + BATCH]
        for contact_id, (facts, stored) in _facts(chunk).items():
            score = lead_score(facts=facts, rules=rules, now=now)
            if score != stored:
                changed[contact_id] = score
    by_score: dict[int, list[int]] = {}
    for contact_id, score in changed.items():
        by_score.setdefault(score, []).append(contact_id)
    for score, group in by_score.items():
        with transaction.atomic():
            Contact.objects.filter(pk__in=group).update(lead_score=score)
            messages_reprioritize(contact_ids=group, priority=score)
    return changed


def contact_rescore(*, contact_id: int, now: datetime | None = None) -> int | None:
    """The contact's new score if it changed."""
    return contacts_rescore(contact_ids=[contact_id], now=now).get(contact_id)


def contacts_rescore_later(*, contact_ids: Iterable[int]) -> None:
    """Mark the contacts for the coalescing rescore. Only a mark that finds nothing pending wakes
    a worker: a burst of replies costs one task, which drains every mark (beat sweeps the rest)."""
    ids = sorted(set(contact_ids))
    if not ids:
        return
    idle = not PendingRescore.objects.exists()
    PendingRescore.objects.bulk_create([PendingRescore(contact_id=i) for i in ids], ignore_conflicts=True)
    if idle:
        task_enqueue("campaigns.tasks.rescore_pending")


def pending_rescore_drain(*, batch: int = BATCH) -> int:
    """Rescore every marked contact, a batch at a time; returns how many were rescored."""
    done = 0
    while True:
        ids = list(PendingRescore.objects.order_by("created_at").values_list("contact_id", flat=True)[:batch])
        if not ids:
            return done
        with transaction.atomic():
            contacts_rescore(contact_ids=ids)
            PendingRescore.objects.filter(contact_id__in=ids).delete()
        done += len(ids)
