"""Campaigns' listeners on the inbox's hooks (inbox/hooks.py), connected in CampaignsConfig.ready():
replies stop sequences; statuses move recipient states; both move the contact's lead score; a
campaign message's send decision reads and writes its recipient."""
from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from campaigns.models import CampaignRecipient
from campaigns.services.dispatch import campaign_send_apply, campaign_send_batch_locks, campaign_send_facts
from campaigns.services.progress import campaign_progress_changed
from campaigns.services.scores import contact_rescore, contacts_rescore_later
from campaigns.services.sequences import sequence_stop
from inbox import hooks
from inbox.models import Message
from inbox.services.batches import messages_withdraw

RECIPIENT_STATE_FOR_STATUS = {"sent": "sent", "delivered": "delivered", "read": "read", "failed": "failed"}
# A recipient's state only moves forward, like its message's status.
STATE_RANK = {"scheduled": 0, "sent": 1, "delivered": 2, "read": 3}


def on_contacts_replied(*, replies: dict[int, datetime]) -> int:
    """A reply on any channel stops every pending follow-up step of the contact's sequences at
    once (their messages are withdrawn), marks the campaign messages it answers, and rescores.
    Contacts in no campaign (most replies) cost one query per batch: their score (recency,
    replies) is refreshed by a worker after commit."""
    in_campaigns = set(CampaignRecipient.objects.filter(contact_id__in=list(replies)).values_list("contact_id", flat=True))
    contacts_rescore_later(contact_ids=[c for c in replies if c not in in_campaigns])
    stopped = 0
    for contact_id in sorted(in_campaigns):
        at = replies[contact_id] or timezone.now()
        stopped += sequence_stop(contact_id=contact_id, at=at)
        answered = CampaignRecipient.objects.filter(contact_id=contact_id, replied_at__isnull=True, sent_at__lte=at,
                                                    state__in=["sent", "delivered", "read"])
        campaign_progress_changed(campaign_ids=set(answered.values_list("campaign_id", flat=True)))
        answered.update(replied_at=at)
        contact_rescore(contact_id=contact_id)
    return stopped


def on_message_status(*, recipient_id: int, status: str) -> None:
    state = RECIPIENT_STATE_FOR_STATUS.get(status)
    if not state:
        return
    row = CampaignRecipient.objects.filter(pk=recipient_id).values_list("contact_id", "message_id", "campaign_id").first()
    if row is None:
        return
    contact_id, message_id, campaign_id = row
    message = Message.objects.filter(pk=message_id).values_list("sent_at", "error_code", "error_title").first()
    sent_at, error_code, error_title = message or (None, "", "")
    recipients = CampaignRecipient.objects.filter(pk=recipient_id)
    if state == "failed":
        moved = recipients.filter(state__in=["scheduled", "sent"]).update(state="failed", reason=(error_code or error_title or "failed")[:200])
    else:
        behind = [s for s, rank in STATE_RANK.items() if rank < STATE_RANK[state]]
        moved = recipients.filter(state__in=behind).update(state=state)
        if state == "sent" and moved:
            recipients.update(sent_at=sent_at or timezone.now())  # this attempt's send, also after a re-plan
        else:
            recipients.filter(sent_at__isnull=True).update(sent_at=sent_at or timezone.now())
    if moved:
        campaign_progress_changed(campaign_ids=[campaign_id])
    if moved and state in ("delivered", "read"):
        contact_rescore(contact_id=contact_id)


def _message_status_changed(*, message) -> None:
    if message.campaign_recipient_id:
        on_message_status(recipient_id=message.campaign_recipient_id, status=message.status)


def _send_decided(*, message, decision, now) -> None:
    if message.campaign_recipient_id and decision.effects:
        campaign_send_apply(message=message, decision=decision, now=now)


def on_contacts_merged(*, keep_id: int, duplicate_id: int) -> dict:
    """The duplicate's campaign rows move to the kept contact. Where both are recipients of the
    same campaign step the kept one's stays: the duplicate's unsent message is withdrawn and its
    row goes, so the person is never reached twice. Then the kept contact is rescored."""
    kept = set(CampaignRecipient.objects.filter(contact_id=keep_id).values_list("campaign_id", "step"))
    moved, dropped = [], []
    for recipient in CampaignRecipient.objects.select_for_update().filter(contact_id=duplicate_id):
        (dropped if (recipient.campaign_id, recipient.step) in kept else moved).append(recipient)
    # skip_locked: a message a worker holds is being decided right now; waiting for it while the
    # merge holds the conversations could deadlock with the worker's own writes.
    withdrawn = messages_withdraw(message_ids=[r.message_id for r in dropped if r.message_id], at=timezone.now(),
                                  reason=f"contact merged into contact {keep_id}", skip_locked=True) if dropped else 0
    CampaignRecipient.objects.filter(pk__in=[r.pk for r in dropped]).delete()
    CampaignRecipient.objects.filter(pk__in=[r.pk for r in moved]).update(contact_id=keep_id)
    contact_rescore(contact_id=keep_id)
    return {"campaign_recipients": len(moved), "campaign_recipients_dropped": len(dropped), "messages_withdrawn": withdrawn}


def connect() -> None:
    hooks.contacts_replied.connect(on_contacts_replied)
    hooks.message_status_changed.connect(_message_status_changed)
    hooks.send_facts.connect(campaign_send_facts)
    hooks.send_batch_locks.connect(campaign_send_batch_locks)
    hooks.send_decided.connect(_send_decided)
    hooks.contacts_merged.connect(on_contacts_merged)
