"""The raw inbound store: every webhook delivery, kept before it is answered."""
from django.contrib.postgres.fields import ArrayField
from django.db import models

from salesreps.models import Channel


class WebhookEvent(models.Model):
    class State(models.TextChoices):
        RECEIVED = "received"
        PROCESSED = "processed"
        FAILED = "failed"
        IGNORED = "ignored"

    platform = models.CharField(max_length=20)
    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.SET_NULL, related_name="webhook_events")
    dedup_key = models.CharField(max_length=200)  # sha256 of platform, channel and the platform's key
    # sha256 of a single-use token (Mailgun's), accepted once; "" where the signature covers the body.
    nonce = models.CharField(max_length=64, blank=True, default="")
    # The channels whose secret signed it; its items apply only to those. None: stored unverified
    # by an internal caller.
    signed_by = ArrayField(models.BigIntegerField(), null=True, blank=True)
    body = models.BinaryField()
    headers = models.JSONField(default=dict)
    url = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.RECEIVED)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["platform", "dedup_key"], name="webhook_dedup_unique"),
            models.UniqueConstraint(fields=["platform", "nonce"], condition=~models.Q(nonce=""), name="webhook_nonce_unique"),
        ]
        indexes = [models.Index(fields=["received_at"], condition=models.Q(state="received"), name="webhook_unprocessed_idx")]
