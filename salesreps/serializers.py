"""API shapes for channels, reps, rep-channels and shifts. Secrets go in, never come out:
a channel answers with the names of its secrets, a rep-channel with whether a password is set."""
from __future__ import annotations

from rest_framework import serializers

from salesreps.models import Channel, SalesRep, SalesRepChannel, WorkingShift


class ActivityNamesField(serializers.ListField):
    """A channel's activities as a list of names, e.g. ["comment", "message"]."""

    child = serializers.SlugField(max_length=50)

    def to_representation(self, data):
        return sorted(a.name for a in data.all())


class ChannelSerializer(serializers.ModelSerializer):
    secrets = serializers.DictField(
        child=serializers.CharField(allow_blank=True, allow_null=True, trim_whitespace=False),
        write_only=True, required=False,
        help_text="Merged into the stored secrets; a null or empty value removes that secret. Never returned.",
    )
    secret_fields_set = serializers.SerializerMethodField()
    activities = ActivityNamesField(required=False)

    class Meta:
        model = Channel
        fields = [
            "id", "name", "kind", "internal_url", "external_url", "description", "is_active", "config", "routing_key",
            "rate_limit_per_hour", "rate_limit_per_day", "cost_per_message", "team", "activities", "secrets",
            "secret_fields_set", "created_at",
        ]
        read_only_fields = ["id", "created_at"]

    def get_secret_fields_set(self, channel: Channel) -> list[str]:
        return sorted(channel.secrets or {})

    def validate_config(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("config must be a JSON object")
        return value


class RepChannelActivitySerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    activity = serializers.SlugField(max_length=50, help_text="The name of one of the channel's activities.")
    start_time = serializers.TimeField(required=False, allow_null=True)
    end_time = serializers.TimeField(required=False, allow_null=True)
    max_capacity = serializers.IntegerField(min_value=0, required=False, allow_null=True,
                                            help_text="Overrides the rep-channel's max; 0 switches the activity off.")

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["activity"] = instance.activity.name
        return data

    def validate(self, attrs):
        if "activity" not in attrs:  # a PATCH makes nested fields optional; the name never is
            raise serializers.ValidationError({"activity": "name the channel activity"})
        start, end = attrs.get("start_time"), attrs.get("end_time")
        if ("start_time" in attrs or "end_time" in attrs) and (start is None) != (end is None):
            raise serializers.ValidationError({"end_time" if end is None else "start_time": "set both start_time and end_time, or neither"})
        if start is not None and start == end:
            raise serializers.ValidationError({"end_time": "end time equals start time: the window would be empty"})
        return attrs


class RepChannelSerializer(serializers.ModelSerializer):
    channel = serializers.PrimaryKeyRelatedField(queryset=Channel.objects.all())
    channel_name = serializers.CharField(source="channel.name", read_only=True)
    password = serializers.CharField(
        write_only=True, required=False, allow_blank=True, allow_null=True, trim_whitespace=False,
        help_text="Write-only: blank keeps the stored password, null clears it.",
    )
    password_set = serializers.SerializerMethodField()
    activities = RepChannelActivitySerializer(many=True, required=False)

    class Meta:
        model = SalesRepChannel
        fields = [
            "id", "channel", "channel_name", "username", "password", "password_set", "is_available", "sandbox",
            "start_time", "end_time", "timezone", "max_daily_capacity", "warmup_start", "warmup_step", "activities",
            "last_sent_at",
        ]
        read_only_fields = ["id", "last_sent_at"]

    def get_password_set(self, rep_channel: SalesRepChannel) -> bool:
        return bool(rep_channel.password)

    def validate_channel(self, channel):
        if self.instance is not None and channel.pk != self.instance.channel_id:
            raise serializers.ValidationError("a rep-channel's channel cannot be changed; create another rep-channel")
        return channel

    def validate(self, attrs):
        current = self.instance
        start = attrs.get("start_time", current.start_time if current else None)
        end = attrs.get("end_time", current.end_time if current else None)
        if start is not None and start == end:
            raise serializers.ValidationError({"end_time": "end time equals start time: the window would be empty"})
        return attrs


class RepSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    team_name = serializers.CharField(source="team.name", read_only=True, default=None)

    class Meta:
        model = SalesRep
        fields = ["id", "username", "full_name", "phone", "country", "city", "is_available", "team", "team_name", "role"]
        read_only_fields = fields


class AvailabilitySerializer(serializers.Serializer):
    """PATCH /api/reps/me/: without channel_id the rep's global flag, with it one rep-channel's."""

    is_available = serializers.BooleanField()
    channel_id = serializers.IntegerField(required=False, allow_null=True)

    def validate_channel_id(self, channel_id):
        rep = self.context["rep"]
        if channel_id is not None and not rep.rep_channels.filter(channel_id=channel_id).exists():
            raise serializers.ValidationError(f"you have no channel {channel_id}")
        return channel_id


class ShiftSerializer(serializers.ModelSerializer):
    class Meta:
        model = WorkingShift
        fields = ["id", "date", "number", "start_time", "end_time", "is_day_off", "note"]
        read_only_fields = ["id"]
        # The (rep, date, number) uniqueness is the service's to report, naming `number`.
        validators = []
