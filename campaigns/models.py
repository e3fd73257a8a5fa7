"""Campaigns: an audience, a template and a wall-clock window, expanded per contact."""
from django.conf import settings
from django.db import models

from inbox.models import Contact, Template
from salesreps.models import Channel, SalesRep


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
    daily_cap = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class CampaignStep(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="steps")
    number = models.PositiveSmallIntegerField()  # 1 is the first follow-up after the initial send
    delay_hours = models.PositiveIntegerField(default=24)
    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.PROTECT)
    text = models.TextField(blank=True)
    template = models.ForeignKey(Template, null=True, blank=True, on_delete=models.PROTECT)
    stop_on = models.CharField(max_length=10, default="reply")  # reply | read

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "number"], name="step_unique")]


class CampaignRecipient(models.Model):
    class State(models.TextChoices):
        SCHEDULED = "scheduled"
        SENT = "sent"
        DELIVERED = "delivered"
        READ = "read"
        FAILED = "failed"
        SKIPPED = "skipped"
        CANCELLED = "cancelled"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="campaign_recipients")
    step = models.PositiveSmallIntegerField(default=0)
    rep = models.ForeignKey(SalesRep, null=True, blank=True, on_delete=models.SET_NULL)
    state = models.CharField(max_length=10, choices=State.choices, default=State.SCHEDULED)
    reason = models.CharField(max_length=200, blank=True)
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    message_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "contact", "step"], name="recipient_once_per_step")]
        indexes = [models.Index(fields=["campaign", "state"])]
