"""Campaigns: an audience, a template and a wall-clock window, expanded per contact."""
from datetime import UTC, datetime

from django.conf import settings
from django.db import models

from inbox.models import Contact, Template
from salesreps.models import Channel, SalesRep, Team


def wall_clock(value: datetime) -> datetime:
    """The naive wall-clock time a campaign or slot bound stands for (stored naive-as-UTC)."""
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo is not None else value


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        SCHEDULED = "scheduled"
        RUNNING = "running"
        PAUSED = "paused"
        COMPLETED = "completed"
        CANCELLED = "cancelled"

    name = models.CharField(max_length=200)
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="campaigns")
    template = models.ForeignKey(Template, null=True, blank=True, on_delete=models.PROTECT)
    text = models.TextField(blank=True)
    variables = models.JSONField(default=dict, blank=True)
    audience = models.JSONField(default=dict, blank=True)  # tags_any, tags_all, operator_code, country, min_score
    start_at = models.DateTimeField()  # wall-clock, applied in each contact's zone (stored naive-as-UTC)
    end_at = models.DateTimeField()
    daily_cap = models.PositiveIntegerField(null=True, blank=True)  # campaign sends per UTC day
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    # The team whose managers see and run it: its audience is that team's contacts, its sends go on
    # that team's reps. None (admins only): every contact and rep of the company.
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="campaigns")
    # The rep pool: only these reps (of the team, on the channel) send it. Empty: every rep of the
    # team who works the channel, spread by remaining capacity.
    reps = models.ManyToManyField(SalesRep, blank=True, related_name="pool_campaigns")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(end_at__gt=models.F("start_at")), name="campaign_window_not_empty")]
        indexes = [models.Index(fields=["status"]), models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return self.name

    @property
    def is_live(self) -> bool:
        return self.status in (self.Status.SCHEDULED, self.Status.RUNNING)


class CampaignStep(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="steps")
    number = models.PositiveSmallIntegerField()  # 1 is the first follow-up after the initial send
    delay_hours = models.PositiveIntegerField(default=24)
    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.PROTECT)
    text = models.TextField(blank=True)
    template = models.ForeignKey(Template, null=True, blank=True, on_delete=models.PROTECT)
    stop_on = models.CharField(max_length=10, default="reply")  # reply | read

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "number"], name="step_unique"),
            models.CheckConstraint(condition=models.Q(number__gte=1), name="step_number_from_one"),
            models.CheckConstraint(condition=models.Q(stop_on__in=["reply", "read"]), name="step_stop_on_known"),
        ]
        ordering = ["number"]


class CampaignSlot(models.Model):
    """A wall-clock sending slot (applied in each contact's zone, like the campaign window).
    Recipients not reached when their slot ends are recycled into the next slot."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="slots")
    start_at = models.DateTimeField()  # wall-clock, stored naive-as-UTC
    end_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(end_at__gt=models.F("start_at")), name="slot_not_empty"),
            models.UniqueConstraint(fields=["campaign", "start_at"], name="slot_unique_start"),
        ]
        ordering = ["start_at", "id"]


class CampaignRecipient(models.Model):
    class State(models.TextChoices):
        SCHEDULED = "scheduled"
        SENT = "sent"
        DELIVERED = "delivered"
        READ = "read"
        FAILED = "failed"
        SKIPPED = "skipped"
        CANCELLED = "cancelled"

    class Clip(models.TextChoices):
        """What the contact's allowed hours did to the window the recipient was planned in."""

        KEPT = "kept"
        NARROWED = "narrowed"
        SKIPPED = "skipped"

    # Indexes are few on purpose: expansion writes 100,000 rows at once and each index costs
    # on every row. The unique constraint leads with campaign; unset columns are left out.
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients", db_index=False)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="campaign_recipients")
    step = models.PositiveSmallIntegerField(default=0)
    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False)
    rep = models.ForeignKey(SalesRep, null=True, blank=True, on_delete=models.SET_NULL, db_index=False)  # read per campaign
    state = models.CharField(max_length=10, choices=State.choices, default=State.SCHEDULED)
    reason = models.CharField(max_length=200, blank=True)
    clip = models.CharField(max_length=10, choices=Clip.choices, blank=True)
    slot = models.ForeignKey(CampaignSlot, null=True, blank=True, on_delete=models.SET_NULL, related_name="recipients",
                             db_index=False)
    # The interval (UTC) the message is planned in; dispatch never sends outside it.
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    not_before = models.DateTimeField(null=True, blank=True)  # follow-ups: previous step's send + delay
    message_id = models.BigIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)  # messages planned for this row
    reserved_at = models.DateTimeField(null=True, blank=True)  # let through the campaign's daily cap
    sent_at = models.DateTimeField(null=True, blank=True)
    replied_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "contact", "step"], name="recipient_once_per_step")]
        indexes = [
            models.Index(fields=["campaign", "state"]),
            models.Index(fields=["campaign", "reserved_at"], condition=models.Q(reserved_at__isnull=False), name="recipient_reserved_idx"),
            models.Index(fields=["message_id"]),
            models.Index(fields=["sent_at"], condition=models.Q(sent_at__isnull=False), name="recipient_sent_idx"),
            models.Index(fields=["slot"], condition=models.Q(slot__isnull=False), name="recipient_slot_idx"),
            models.Index(fields=["window_end"], condition=models.Q(state="scheduled"), name="recipient_window_end_idx"),
        ]


class PendingRescore(models.Model):
    """A contact whose lead score a reply outside any campaign moved: rescored in batches by one
    coalescing task (campaigns.tasks.rescore_pending), never one task per inbound message."""

    contact_id = models.BigIntegerField(primary_key=True)
    created_at = models.DateTimeField(auto_now_add=True)


class PendingProgress(models.Model):
    """A campaign whose progress changed since its last `campaign.progress` event: written after the
    change commits, drained by one coalescing task (campaigns.services.progress), so a burst of
    status webhooks costs one count and one event, and no business transaction waits on this row."""

    campaign_id = models.BigIntegerField(primary_key=True)
    created_at = models.DateTimeField(auto_now_add=True)
