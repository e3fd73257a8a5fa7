"""`campaign.progress`: a campaign's live figures, to the managers of its team and the admins.

Whatever writes recipients (the planner, the send decision, statuses, replies, pause / resume /
cancel, the recycler, completion) calls `campaign_progress_changed` in its transaction. That only
registers an on_commit mark: a rollback marks nothing, and no business transaction writes or waits
on a row shared by every send of the campaign (PITFALLS.md, "A lock every transaction needs is a
global mutex"). After commit the mark is a PendingProgress row; the mark that finds the campaign
not pending wakes the drain task, which counts once and emits one event for however many changes
the row stands for (a burst of status webhooks is one count, one event). A drain takes a per-
campaign advisory lock, so the events of one campaign leave in the order they were counted. Beat
drains marks whose wake-up the broker lost.
"""
from __future__ import annotations

from collections.abc import Iterable

from django.db import connection, transaction

from campaigns.models import Campaign, PendingProgress
from campaigns.selectors import campaign_progress
from core.enqueue import task_enqueue
from core.logs import entity_log
from core.realtime import emit
from salesreps.selectors import team_watchers

log = entity_log("campaigns")
PROGRESS_LOCK = 0x5B_0E_7E_18  # pg advisory lock namespace (int4): one drain per campaign at a time
TASK = "campaigns.tasks.publish_progress"


def campaign_progress_changed(*, campaign_ids: Iterable[int | None]) -> None:
    """The campaigns' figures change in the caller's transaction: once it commits, mark them and,
    for a campaign not already marked, wake the drain. Nothing happens on rollback."""
    ids = sorted({int(i) for i in campaign_ids if i is not None})
    if not ids:
        return

    def mark() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO campaigns_pendingprogress (campaign_id, created_at) SELECT unnest(%s::bigint[]), now()"
                " ON CONFLICT (campaign_id) DO NOTHING RETURNING campaign_id",
                [ids],
            )
            woken = cursor.fetchall()
        if woken:
            task_enqueue(TASK)

    transaction.on_commit(mark, robust=True)


def campaign_progress_emit(*, campaign: Campaign) -> dict:
    """Emit the campaign's figures now (in the caller's transaction: sent after it commits)."""
    payload = campaign_progress(campaign)
    admins, managers = team_watchers([campaign.team_id])
    emit("campaign.progress", payload, admins | managers.get(campaign.team_id, set()))
    return payload


def pending_progress_drain(*, batch: int = 200) -> int:
    """One `campaign.progress` per marked campaign, each counted after its mark is taken off (so a
    change committed before its mark is always in the count); returns how many were emitted."""
    emitted = 0
    while True:
        ids = list(PendingProgress.objects.order_by("created_at", "campaign_id").values_list("campaign_id", flat=True)[:batch])
        if not ids:
            return emitted
        for campaign_id in ids:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [PROGRESS_LOCK, campaign_id % 2**31])
                    cursor.execute("DELETE FROM campaigns_pendingprogress WHERE campaign_id = %s RETURNING campaign_id", [campaign_id])
                    if not cursor.fetchall():
                        continue  # another drain took it
                campaign = Campaign.objects.filter(pk=campaign_id).first()
                if campaign is None:
                    continue
                campaign_progress_emit(campaign=campaign)
                emitted += 1
