"""API shapes for channels, reps, rep-channels and shifts. Secrets go in, never come out:
a channel answers with the names of its secrets, a rep-channel with whether a password is set."""
from __future__ import annotations

from django.db.models import Count
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
    zone = serializers.CharField(read_only=True, help_text="The time zone in force: timezone if set, else the rep's.")

    class Meta:
        model = SalesRepChannel
        fields = [
            "id", "channel", "channel_name", "username", "password", "password_set", "is_available", "sandbox",
            "start_time", "end_time", "timezone", "zone", "max_daily_capacity", "warmup_start", "warmup_step", "activities",
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


class RepChannelAnswerSerializer(RepChannelSerializer):
    """What a change of a rep-channel answers (the schema's view of it): the rep-channel and its warnings."""

    warnings = serializers.ListField(child=serializers.CharField(), read_only=True,
                                     help_text="E.g. a cap at or below today's use: no more of that activity today.")

    class Meta(RepChannelSerializer.Meta):
        fields = [*RepChannelSerializer.Meta.fields, "warnings"]


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
    records = serializers.SerializerMethodField(help_text="Activities performed in this shift, per activity name.")

    class Meta:
        model = WorkingShift
        fields = ["id", "date", "number", "start_time", "end_time", "is_day_off", "note", "planned", "records"]
        # planned: entered for that date (false: materialized from the schedule by the day's first activity).
        read_only_fields = ["id", "planned", "records"]
        # The (rep, date, number) uniqueness is the service's to report, naming `number`.
        validators = []

    def get_records(self, shift: WorkingShift) -> dict[str, int]:
        return dict(shift.records.values_list("rep_channel_activity__activity__name").annotate(n=Count("id")).order_by())


# --- The weekly schedule: GET/PUT /api/reps/<id>/schedule/ ------------------------------------

class WeeklyWindowSerializer(serializers.Serializer):
    weekday = serializers.IntegerField(help_text="0 = Monday … 6 = Sunday.")
    start = serializers.TimeField(help_text="Local wall-clock time (HH:MM) in the rep's zone.")
    end = serializers.TimeField(help_text="Before start: the window crosses midnight and belongs to this weekday.")
    activity = serializers.CharField(max_length=50, allow_blank=True, required=False, default="",
                                     help_text="Blank: every activity; a name (like, comment…): that activity's own windows.")


class TimeOffSerializer(serializers.Serializer):
    first_day = serializers.DateField()
    last_day = serializers.DateField(help_text="Inclusive; the same as first_day for one day off.")
    reason = serializers.CharField(max_length=200, allow_blank=True, required=False, default="")


class ScheduleWindowSerializer(serializers.Serializer):
    start = serializers.TimeField()
    end = serializers.TimeField()
    crosses_midnight = serializers.BooleanField()


class ScheduleDaySerializer(serializers.Serializer):
    """What a schedule means at one instant: its shift day, that day's windows, open or not."""

    date = serializers.DateField(help_text="The shift day (local): a night shift still running belongs to the day it began.")
    weekday = serializers.CharField()
    timezone = serializers.CharField()
    windows = ScheduleWindowSerializer(many=True)
    day_off = serializers.BooleanField()
    off_reason = serializers.CharField(allow_null=True)
    open_now = serializers.BooleanField()
    window_closes = serializers.DateTimeField(allow_null=True)
    next_opening = serializers.DateTimeField(allow_null=True)
    next_opening_local = serializers.CharField(allow_null=True)


class ScheduleChannelDaySerializer(ScheduleDaySerializer):
    rep_channel_id = serializers.IntegerField()
    channel = serializers.CharField()


class ScheduleTodaySerializer(ScheduleDaySerializer):
    at = serializers.DateTimeField()
    weekly = serializers.BooleanField(help_text="False: no weekly windows, each channel keeps its own daily hours.")
    channels = ScheduleChannelDaySerializer(many=True)


class ScheduleSerializer(serializers.Serializer):
    """The rep's weekly schedule as one document; PUT replaces timezone, week and time_off at once."""

    rep_id = serializers.IntegerField(read_only=True)
    timezone = serializers.CharField(max_length=64, help_text="IANA name, e.g. Europe/Lisbon.")
    week = WeeklyWindowSerializer(many=True)
    time_off = TimeOffSerializer(many=True)
    holiday_country = serializers.CharField(read_only=True,
                                            help_text="The team's public-holiday calendar (ISO 3166 alpha-2), blank = none.")
    today = ScheduleTodaySerializer(read_only=True)
