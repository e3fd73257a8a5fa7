"""Contacts, conversations, messages, templates and delivery attempts."""
from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models

from salesreps.models import Channel, SalesRep, SalesRepChannel, Team, validate_timezone


class Contact(models.Model):
    name = models.CharField(max_length=200, blank=True)
    phone = models.CharField(max_length=20, blank=True, db_index=True)  # E.164
    email = models.EmailField(blank=True)
    country = models.CharField(max_length=2, blank=True)
    operator_code = models.CharField(max_length=10, blank=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    allowed_start = models.TimeField(null=True, blank=True)
    allowed_end = models.TimeField(null=True, blank=True)
    quiet_start = models.TimeField(null=True, blank=True)
    quiet_end = models.TimeField(null=True, blank=True)
    language = models.CharField(max_length=10, default="en")
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    source = models.CharField(max_length=50, blank=True)
    owner = models.ForeignKey(SalesRep, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_contacts")
    # The team whose managers see and target the contact: the importing manager's, the owner's, or
    # the channel's on a first inbound message (inbox.services.contacts); None: admins only.
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts")
    lead_score = models.IntegerField(default=0, db_index=True)
    converted = models.BooleanField(default=False)
    opted_out = models.BooleanField(default=False)
    opted_out_at = models.DateTimeField(null=True, blank=True)
    opt_out_reason = models.CharField(max_length=50, blank=True)
    preferences = models.JSONField(default=dict, blank=True)  # escalation channels, delays, opt-ins
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [GinIndex(fields=["tags"])]

    def __str__(self) -> str:
        return self.name or self.phone or self.email or f"contact {self.pk}"


class ContactIdentity(models.Model):
    """One identity per (channel, external id): wa_id, PSID, IGSID, phone, address."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="identities")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="identities")
    external_id = models.CharField(max_length=200)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "external_id"], name="identity_unique")]
        verbose_name_plural = "contact identities"


class Suppression(models.Model):
    """An address that opted out, kept apart from any contact row: consent follows the person, so a
    contact created later for the same phone or e-mail address starts opted out, and deleting or
    merging a contact never forgets it."""

    address = models.CharField(max_length=254, unique=True)  # E.164 phone or lower-cased e-mail
    reason = models.CharField(max_length=50)
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.address} ({self.reason})"


class ContactMerge(models.Model):
    """Who merged which contact into which, and what moved (kept after the duplicate is deleted)."""

    kept = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="merges")
    merged_contact_id = models.BigIntegerField()
    merged_name = models.CharField(max_length=200, blank=True)
    merged_phone = models.CharField(max_length=20, blank=True)
    merged_email = models.CharField(max_length=254, blank=True)
    by_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.CharField(max_length=100)
    moved = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)


class Conversation(models.Model):
    class Status(models.TextChoices):
        OPEN = "open"
        PENDING = "pending"
        RESOLVED = "resolved"
        SNOOZED = "snoozed"

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="conversations")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="conversations")
    rep = models.ForeignKey(SalesRep, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    unread_count = models.PositiveIntegerField(default=0)
    last_message_at = models.DateTimeField(null=True, blank=True)
    last_message_preview = models.CharField(max_length=200, blank=True)
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    first_response_seconds = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # One open-ish conversation per contact and channel: reused by inbound processing.
            models.UniqueConstraint(
                fields=["contact", "channel"], condition=~models.Q(status="resolved"), name="one_active_conversation",
            ),
        ]
        indexes = [
            models.Index(fields=["rep", "-last_message_at", "-id"]),
            models.Index(fields=["status", "-last_message_at"]),
        ]


class Template(models.Model):
    class HeaderFormat(models.TextChoices):
        TEXT = "text"
        IMAGE = "image"
        VIDEO = "video"
        DOCUMENT = "document"

    name = models.CharField(max_length=100, unique=True)
    body = models.TextField()  # "Hello {name}": variables in braces
    translations = models.JSONField(default=dict, blank=True)  # {"fr": "Bonjour {name}"}
    whatsapp_name = models.CharField(max_length=100, blank=True)
    whatsapp_language = models.CharField(max_length=10, default="en_US")
    # The approved WhatsApp template's header, as sent: a text header's {variable} (Meta allows one),
    # or an image/video/document header's link, which Meta wants on every send ({variables} allowed).
    whatsapp_header = models.CharField(max_length=1000, blank=True)
    whatsapp_header_format = models.CharField(max_length=10, choices=HeaderFormat.choices, default=HeaderFormat.TEXT)
    subject = models.CharField(max_length=300, blank=True)  # an e-mail's subject, {variables} allowed
    html_body = models.TextField(blank=True)  # an e-mail's HTML part beside the text; values are escaped
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Message(models.Model):
    class Direction(models.TextChoices):
        INBOUND = "in"
        OUTBOUND = "out"

    class Status(models.TextChoices):
        RECEIVED = "received"
        QUEUED = "queued"
        DEFERRED = "deferred"
        SENDING = "sending"
        SENT = "sent"
        DELIVERED = "delivered"
        READ = "read"
        FAILED = "failed"
        CANCELLED = "cancelled"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    status = models.CharField(max_length=10, choices=Status.choices)
    kind = models.CharField(max_length=20, default="text")
    body = models.TextField(blank=True)
    media_url = models.TextField(blank=True)
    media_type = models.CharField(max_length=20, blank=True)
    media_filename = models.CharField(max_length=255, blank=True)  # a document's name as the sender gave it
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    reply_to_external_id = models.CharField(max_length=200, blank=True)
    subject = models.CharField(max_length=300, blank=True)  # an e-mail's subject: replies thread on it
    external_id = models.CharField(max_length=200, blank=True)
    template = models.ForeignKey(Template, null=True, blank=True, on_delete=models.SET_NULL)
    variables = models.JSONField(default=dict, blank=True)
    sender = models.ForeignKey(SalesRep, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    rep_channel = models.ForeignKey(SalesRepChannel, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")
    idempotency_key = models.CharField(max_length=100, blank=True)
    # Outbound scheduling: due rows are claimed with select_for_update(skip_locked=True).
    due_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    defer_reason = models.CharField(max_length=300, blank=True)
    defer_code = models.CharField(max_length=40, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    needs_reconciliation = models.BooleanField(default=False)
    priority = models.IntegerField(default=0)  # lead score at queue time: best leads first
    error_code = models.CharField(max_length=50, blank=True)
    error_title = models.CharField(max_length=300, blank=True)
    campaign_recipient_id = models.BigIntegerField(null=True, blank=True)
    search = SearchVectorField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # When it was sent: by us (the provider's answer), or by the contact (the platform's timestamp,
    # never after we stored it); created_at is when it was stored, hours later for a late delivery.
    sent_at = models.DateTimeField(null=True, blank=True)
    status_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"], condition=~models.Q(external_id=""), name="message_external_unique",
            ),
            models.UniqueConstraint(
                fields=["conversation", "idempotency_key"], condition=~models.Q(idempotency_key=""),
                name="message_idempotency_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["conversation", "-created_at", "-id"]),
            models.Index(fields=["due_at"], condition=models.Q(status__in=["queued", "deferred"]), name="message_due_idx"),
            GinIndex(fields=["search"]),
        ]


# Order in which an outbound status may move forward; never backwards.
STATUS_RANK = {"queued": 0, "deferred": 0, "sending": 1, "sent": 2, "delivered": 3, "read": 4}


class MessageEvent(models.Model):
    """History of a message's statuses, each with the time the platform gave."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="events")
    status = models.CharField(max_length=20)
    at = models.DateTimeField()
    detail = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["at", "id"]


class PendingStatus(models.Model):
    """A status that named no message when it came: the answer to the send (its external id) was not
    stored yet, or the message was still waiting for it. Applied once the answer is recorded or the
    message is parked (inbox.services.statuses.statuses_pending_apply); dropped after a day."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    external_id = models.CharField(max_length=200)  # the platform's id of our message
    correlation = models.CharField(max_length=200, blank=True)  # our key, echoed back
    status = models.CharField(max_length=20)
    at = models.DateTimeField()  # the platform's time of the status
    payload = models.JSONField(default=dict, blank=True)  # contact_id, error_code, error_title
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [
            models.Index(fields=["channel", "external_id"], name="pending_status_external_idx"),
            models.Index(fields=["correlation"], name="pending_status_correlation_idx"),
        ]
        verbose_name_plural = "pending statuses"


class DeliveryAttempt(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attempts_log")
    started_at = models.DateTimeField(auto_now_add=True)
    sandbox = models.BooleanField(default=False)
    ok = models.BooleanField(default=False)
    retryable = models.BooleanField(default=False)
    status_code = models.PositiveSmallIntegerField(default=0)
    external_id = models.CharField(max_length=200, blank=True)
    error_code = models.CharField(max_length=50, blank=True)
    error_title = models.CharField(max_length=300, blank=True)
    response = models.JSONField(default=dict, blank=True)


class ActivityRequest(models.Model):
    """A rep-channel activity other than a message (a like, a comment, a broadcast…), queued and
    dispatched by the same workers and the same checks as messages (inbox.services.activities),
    performed by the channel's service and recorded in the capacity ledger."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        DEFERRED = "deferred"
        SENDING = "sending"
        DONE = "done"
        FAILED = "failed"

    rep_channel = models.ForeignKey(SalesRepChannel, on_delete=models.CASCADE, related_name="activity_requests")
    activity = models.SlugField(max_length=50)  # the channel activity's name
    target = models.TextField(blank=True)  # a post URL to like or comment on, a broadcast's text…
    text = models.TextField(blank=True)  # a comment's text
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    idempotency_key = models.CharField(max_length=100, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    defer_code = models.CharField(max_length=40, blank=True)
    defer_reason = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    external_id = models.CharField(max_length=200, blank=True)  # the service's id of what it did
    error_code = models.CharField(max_length=50, blank=True)
    error_title = models.CharField(max_length=300, blank=True)
    sandbox = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    performed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rep_channel", "idempotency_key"], condition=~models.Q(idempotency_key=""),
                                    name="activity_request_idempotency_unique"),
        ]
        indexes = [models.Index(fields=["status", "due_at"], name="activity_request_due_idx")]
