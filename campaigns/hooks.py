"""What the inbox tells campaigns: replies stop sequences; statuses move recipient states."""
from __future__ import annotations

from campaigns.models import CampaignRecipient

RECIPIENT_STATE_FOR_STATUS = {"sent": "sent", "delivered": "delivered", "read": "read", "failed": "failed"}


def on_contact_replied(*, contact_id: int, at) -> int:
    """A reply on any channel stops every pending follow-up step of the contact's sequences."""
    return CampaignRecipient.objects.filter(contact_id=contact_id, step__gt=0, state="scheduled").update(
        state="cancelled", reason="contact replied"
    )


def on_message_status(*, recipient_id: int, status: str) -> None:
    state = RECIPIENT_STATE_FOR_STATUS.get(status)
    if state:
        CampaignRecipient.objects.filter(pk=recipient_id).update(state=state)
