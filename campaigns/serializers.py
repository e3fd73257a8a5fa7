"""Campaign API shapes: input is parsed here, checked and written by campaigns.services."""
from __future__ import annotations

from datetime import UTC, datetime

from django.utils import timezone
from rest_framework import serializers

from campaigns.models import Campaign, CampaignRecipient, CampaignSlot, CampaignStep, wall_clock
from campaigns.rules import recipient_why
from campaigns.validation import normalize_audience
from inbox.models import Template
from salesreps.models import Channel, SalesRep, Team


class WallClockField(serializers.DateTimeField):
    """A wall-clock date-time without zone ("2026-03-08T09:00:00"): the campaign applies it in
    each contact's own zone. Stored naive-as-UTC; an offset is refused rather than guessed."""

    def to_internal_value(self, value) -> datetime:
        if isinstance(value, str) and value.strip():
            try:
                parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError:
                self.fail("invalid", format="YYYY-MM-DDThh:mm[:ss]")
            if parsed.tzinfo is not None:
                raise serializers.ValidationError(
                    "give a wall-clock time without a zone offset: it is applied in each contact's own time zone")
            if not 2000 <= parsed.year <= 2200:
                raise serializers.ValidationError("give a date between the years 2000 and 2200")
            return parsed.replace(tzinfo=UTC)
        self.fail("invalid", format="YYYY-MM-DDThh:mm[:ss]")

    def to_representation(self, value) -> str | None:
        return wall_clock(value).isoformat() if value else None


class StepSerializer(serializers.ModelSerializer):
    channel = serializers.PrimaryKeyRelatedField(queryset=Channel.objects.all(), required=False, allow_null=True)
    template = serializers.PrimaryKeyRelatedField(queryset=Template.objects.all(), required=False, allow_null=True)
    stop_on = serializers.ChoiceField(choices=["reply", "read"], default="reply")
    text = serializers.CharField(required=False, allow_blank=True, default="", max_length=4096)

    class Meta:
        model = CampaignStep
        fields = ["number", "delay_hours", "channel", "text", "template", "stop_on"]


class SlotSerializer(serializers.ModelSerializer):
    start_at = WallClockField()
    end_at = WallClockField()

    class Meta:
        model = CampaignSlot
        fields = ["start_at", "end_at"]

    def validate(self, attrs):
        if attrs["end_at"] <= attrs["start_at"]:
            raise serializers.ValidationError({"end_at": "a slot must end after it starts"})
        return attrs


class CampaignWriteSerializer(serializers.ModelSerializer):
    channel = serializers.PrimaryKeyRelatedField(queryset=Channel.objects.all())
    team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.all(), required=False, allow_null=True,
        help_text="The team whose contacts and reps it uses (a team you manage); by default yours. Fixed once created.")
    template = serializers.PrimaryKeyRelatedField(queryset=Template.objects.all(), required=False, allow_null=True)
    text = serializers.CharField(required=False, allow_blank=True, default="", max_length=4096)
    variables = serializers.DictField(required=False, default=dict)
    audience = serializers.DictField(required=False, default=dict)
    start_at = WallClockField()
    end_at = WallClockField()
    daily_cap = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**31 - 1)
    steps = StepSerializer(many=True, required=False)
    slots = SlotSerializer(many=True, required=False)
    reps = serializers.PrimaryKeyRelatedField(
        queryset=SalesRep.objects.all(), many=True, required=False,
        help_text="The rep pool: only these reps of the campaign's team send it. Empty: every rep of the team on the channel.")

    class Meta:
        model = Campaign
        fields = ["name", "channel", "team", "template", "text", "variables", "audience", "start_at", "end_at", "daily_cap", "steps",
                  "slots", "reps"]

    def validate_audience(self, value):
        try:
            return normalize_audience(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate(self, attrs):
        start = attrs.get("start_at", getattr(self.instance, "start_at", None))
        end = attrs.get("end_at", getattr(self.instance, "end_at", None))
        if start is not None and end is not None and end <= start:
            raise serializers.ValidationError({"end_at": "end_at must be after start_at"})
        return attrs


class CampaignSerializer(serializers.ModelSerializer):
    start_at = WallClockField(read_only=True)
    end_at = WallClockField(read_only=True)
    steps = StepSerializer(many=True, read_only=True)
    slots = SlotSerializer(many=True, read_only=True)
    reps = serializers.SerializerMethodField(help_text="The rep pool's ids (empty: every rep of the team on the channel).")
    rep_pool = serializers.SerializerMethodField(help_text="The rep pool as [{id, full_name}].")

    class Meta:
        model = Campaign
        fields = ["id", "name", "channel", "team", "template", "text", "variables", "audience", "start_at", "end_at", "daily_cap",
                  "status", "created_by", "created_at", "started_at", "finished_at", "steps", "slots", "reps", "rep_pool"]
        read_only_fields = fields

    def get_reps(self, campaign: Campaign) -> list[int]:
        return sorted(rep.id for rep in campaign.reps.all())

    def get_rep_pool(self, campaign: Campaign) -> list[dict]:
        return [{"id": rep.id, "full_name": rep.full_name} for rep in sorted(campaign.reps.all(), key=lambda r: (r.full_name, r.id))]


class RecipientSerializer(serializers.ModelSerializer):
    """A recipient as campaigns.selectors.campaign_recipients reads it (with its message's state)."""

    contact_name = serializers.CharField(source="contact.name", read_only=True)
    contact_timezone = serializers.CharField(source="contact.timezone", read_only=True)
    lead_score = serializers.IntegerField(source="contact.lead_score", read_only=True)
    rep_name = serializers.CharField(source="rep.full_name", read_only=True, default="")
    message_status = serializers.CharField(read_only=True, allow_null=True, default=None)
    due_at = serializers.DateTimeField(source="message_due_at", read_only=True, allow_null=True, default=None)
    why = serializers.SerializerMethodField(help_text="Why the recipient waits, or was skipped, failed or cancelled, in words.")

    class Meta:
        model = CampaignRecipient
        fields = ["id", "contact", "contact_name", "contact_timezone", "lead_score", "step", "channel", "rep", "rep_name", "state",
                  "reason", "why", "clip", "slot", "window_start", "window_end", "message_id", "message_status", "due_at", "attempts",
                  "sent_at", "replied_at"]
        read_only_fields = fields

    def get_why(self, row: CampaignRecipient) -> str:
        return recipient_why(state=row.state, reason=row.reason, clip=row.clip, message_status=getattr(row, "message_status", None),
                             defer_reason=getattr(row, "message_defer_reason", "") or "",
                             error_title=getattr(row, "message_error_title", "") or "", due_at=getattr(row, "message_due_at", None),
                             window_start=row.window_start, tz=row.contact.timezone, now=self.context.get("now") or timezone.now())


class PlanResultSerializer(serializers.Serializer):
    scheduled = serializers.IntegerField()
    skipped = serializers.IntegerField()
    reasons = serializers.DictField(child=serializers.IntegerField())
    per_rep = serializers.DictField(child=serializers.IntegerField())
    excluded = serializers.DictField(child=serializers.IntegerField(),
                                     help_text="Audience contacts consent left out, by reason: opted_out, opted_out_channel.")


class StartedSerializer(serializers.Serializer):
    campaign = CampaignSerializer()
    plan = PlanResultSerializer()


class HeldSerializer(serializers.Serializer):
    campaign = CampaignSerializer()
    messages = serializers.IntegerField()


class StatsSerializer(serializers.Serializer):
    """GET /api/campaigns/<id>/stats/ (campaigns.selectors.campaign_stats)."""

    campaign_id = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.CharField()
    recipients = serializers.IntegerField()
    by_state = serializers.DictField(child=serializers.IntegerField())
    progress = serializers.DictField(child=serializers.IntegerField(),
                                     help_text="planned, waiting, sent, delivered, read, replied, failed, skipped, cancelled")
    reasons = serializers.DictField(child=serializers.DictField(child=serializers.IntegerField()))
    clip = serializers.DictField(child=serializers.IntegerField())
    by_step = serializers.DictField(child=serializers.IntegerField())
    replied = serializers.IntegerField()
    delivery_rate = serializers.FloatField(allow_null=True)
    next_send_at = serializers.CharField(allow_null=True)
    per_rep = serializers.ListField(child=serializers.DictField())
    per_hour = serializers.ListField(child=serializers.DictField())
