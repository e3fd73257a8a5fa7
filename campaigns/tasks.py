"""Campaign periodic tasks (config/celery.py beat_schedule): thin, each calls one service."""
from celery import shared_task

from campaigns.services.campaigns import campaigns_advance
from campaigns.services.progress import pending_progress_drain
from campaigns.services.reports import stats_email_send
from campaigns.services.scores import contacts_rescore, pending_rescore_drain
from campaigns.services.sequences import followups_plan
from campaigns.services.slots import recipients_recycle


@shared_task(ignore_result=True)
def daily_stats_email() -> int:
    figures = stats_email_send()
    return figures["messages_sent"] if figures else 0


@shared_task(ignore_result=True)
def recycle_slots() -> int:
    """Recipients whose window (slot) ended unsent move to their next one; then campaigns advance."""

    counts = recipients_recycle()
    campaigns_advance()
    return counts["recycled"]


@shared_task(ignore_result=True)
def plan_followups() -> int:
    return followups_plan()


@shared_task(ignore_result=True)
def rescore_contacts(contact_ids: list[int]) -> int:
    return len(contacts_rescore(contact_ids=contact_ids))


@shared_task(ignore_result=True)
def rescore_pending() -> int:
    return pending_rescore_drain()


@shared_task(ignore_result=True)
def publish_progress() -> int:
    """Woken by the first mark of a campaign whose figures changed (and swept by beat)."""
    return pending_progress_drain()
