"""Stored real-time events (for resume), the outbox they wait in until sequenced, and single-use websocket tickets."""
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models


class EventCursor(models.Model):
    """The last seq handed to one user: incremented under the row lock of an UPDATE."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE)
    last_seq = models.BigIntegerField(default=0)
    # Seqs up to here were addressed under an access (role, team) the user no longer has: never
    # replayed, and a socket opened before it moved is closed (core.realtime.access_changed).
    access_floor = models.BigIntegerField(default=0, db_default=0)


class UserEvent(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    seq = models.BigIntegerField()
    name = models.CharField(max_length=40)
    data = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "seq"], name="user_event_seq_unique")]


class WsTicket(models.Model):
    key = models.CharField(max_length=64, primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)


class EventOutbox(models.Model):
    """Events a transaction emitted, written in that transaction with no lock any other one needs;
    after commit the relay (core/realtime.py) gives them per-recipient seqs, stores them as
    UserEvents and publishes them, deleting the row in the same transaction (delivered once)."""

    recipients = ArrayField(models.BigIntegerField())
    events = models.JSONField()  # [[name, data], ...] in emission order
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
