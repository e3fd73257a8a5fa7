"""The outreach model: channels, teams, reps, their channels, shifts, ledger and warm-up."""
from __future__ import annotations

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models.functions import Lower

from core.crypto import EncryptedJSONField, EncryptedTextField
from salesreps.rules import validate_country, validate_tz


def validate_timezone(value: str) -> None:
    try:
        validate_tz(value)
    except ValueError:
        raise ValidationError(f"unknown time zone {value!r} (use an IANA name like Europe/Paris)") from None


def validate_holiday_country(value: str) -> None:
    try:
        validate_country(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


def validate_e164(value: str) -> None:
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        raise ValidationError(f"{value!r} is not a phone number in E.164 form (+<country><number>)") from None
    if not phonenumbers.is_valid_number(number) or phonenumbers.format_number(
        number, phonenumbers.PhoneNumberFormat.E164
    ) != value:
        raise ValidationError(f"{value!r} is not a valid E.164 phone number")


class ChannelKind(models.TextChoices):
    WHATSAPP = "whatsapp"
    MESSENGER = "messenger"
    INSTAGRAM = "instagram"
    SMS = "sms"
    EMAIL = "email"
    SERVICE = "service"


class Channel(models.Model):
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=ChannelKind.choices)
    internal_url = models.URLField(blank=True)
    external_url = models.URLField(blank=True)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    # Non-secret routing and provider settings: phone_number_id, page_id, from_number, address…
    config = models.JSONField(default=dict, blank=True)
    # app_secret, access_token, auth_token, verify_token, signing_key, secret… (encrypted)
    secrets = EncryptedJSONField(blank=True, default=dict)
    routing_key = models.CharField(
        max_length=200, blank=True, db_index=True,
        help_text="What inbound webhooks route by: phone_number_id, page id, number, address or name.",
    )
    rate_limit_per_hour = models.PositiveIntegerField(null=True, blank=True)
    rate_limit_per_day = models.PositiveIntegerField(null=True, blank=True)
    cost_per_message = models.DecimalField(max_digits=8, decimal_places=4, default=0)
    # Whose contacts first reach us here: a contact created by an inbound message on this channel, and
    # an unassigned conversation whose contact has no team, belong to this team (inbox.selectors).
    team = models.ForeignKey("Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="channels")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(Lower("name"), name="channel_name_ci_unique")]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class ChannelActivity(models.Model):
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="activities")
    name = models.SlugField(max_length=50)  # message, like, comment, broadcast, follow…

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "name"], name="activity_unique_per_channel")]
        verbose_name_plural = "channel activities"

    def __str__(self) -> str:
        return f"{self.channel.name}:{self.name}"


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    # Opt-in: the country's public holidays (the `holidays` library) are days off for the team's reps.
    holiday_country = models.CharField(
        max_length=2, blank=True, default="", validators=[validate_holiday_country],
        help_text="ISO 3166 alpha-2 code (PT, FR, US…) whose public holidays are days off for this team; blank = none.",
    )

    def __str__(self) -> str:
        return self.name


class SalesRep(models.Model):
    class Role(models.TextChoices):
        REP = "rep"
        MANAGER = "manager"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="salesrep")
    full_name = models.CharField(max_length=200)
    phone = models.CharField(max_length=20, blank=True, validators=[validate_e164])
    country = models.CharField(max_length=2, blank=True)
    city = models.CharField(max_length=100, blank=True)
    is_available = models.BooleanField(default=True)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="reps")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.REP)
    # The zone of the rep's weekly schedule; a rep-channel may override it.
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone],
                                help_text="IANA time zone of the rep's weekly schedule, e.g. Europe/Lisbon.")

    def __str__(self) -> str:
        return self.full_name

    @property
    def is_manager(self) -> bool:
        return self.role == self.Role.MANAGER


class SalesRepChannel(models.Model):
    rep = models.ForeignKey(SalesRep, on_delete=models.CASCADE, related_name="rep_channels")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="rep_channels")
    username = models.CharField(max_length=200, blank=True)
    password = EncryptedTextField(blank=True)
    is_available = models.BooleanField(default=True)
    sandbox = models.BooleanField(default=True)
    start_time = models.TimeField()
    end_time = models.TimeField()
    # Blank: the rep's zone (see `zone`); set: this channel's hours and weekly windows are read in it.
    timezone = models.CharField(max_length=64, blank=True, default="", validators=[validate_timezone],
                                help_text="Overrides the rep's time zone on this channel; blank = the rep's.")
    max_daily_capacity = models.PositiveIntegerField(default=100)
    warmup_start = models.PositiveIntegerField(null=True, blank=True)
    warmup_step = models.PositiveIntegerField(default=0)
    last_sent_at = models.DateTimeField(null=True, blank=True)  # pacing between sends

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rep", "channel"], name="rep_channel_unique"),
            models.CheckConstraint(condition=~models.Q(start_time=models.F("end_time")), name="rep_channel_window_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.rep} @ {self.channel.name}"

    @property
    def zone(self) -> str:
        """The time zone this rep-channel works in: its own, else the rep's."""
        return self.timezone or self.rep.timezone

    def clean(self) -> None:
        if self.start_time is not None and self.start_time == self.end_time:
            raise ValidationError({"end_time": "end time equals start time: the window would be empty"})


class SalesRepChannelActivity(models.Model):
    rep_channel = models.ForeignKey(SalesRepChannel, on_delete=models.CASCADE, related_name="activities")
    activity = models.ForeignKey(ChannelActivity, on_delete=models.CASCADE, related_name="rep_activities")
    start_time = models.TimeField(null=True, blank=True)
    end_time = models.TimeField(null=True, blank=True)
    max_capacity = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rep_channel", "activity"], name="rep_channel_activity_unique"),
        ]
        verbose_name_plural = "sales rep channel activities"

    def __str__(self) -> str:
        return f"{self.rep_channel} / {self.activity.name}"

    def clean(self) -> None:
        if self.activity_id and self.rep_channel_id and self.activity.channel_id != self.rep_channel.channel_id:
            raise ValidationError({"activity": "this activity belongs to another channel"})
        if self.start_time is not None and self.start_time == self.end_time:
            raise ValidationError({"end_time": "end time equals start time: the window would be empty"})


class WorkingShift(models.Model):
    """One of a rep's shifts on a date (several a day for split shifts)."""

    rep = models.ForeignKey(SalesRep, on_delete=models.CASCADE, related_name="shifts")
    date = models.DateField()
    number = models.PositiveSmallIntegerField(default=1)
    start_time = models.TimeField(null=True, blank=True)
    end_time = models.TimeField(null=True, blank=True)
    is_day_off = models.BooleanField(default=False)
    note = models.CharField(max_length=200, blank=True)
    # True: entered by a manager for that date (an override of the week, or a day off).
    # False: materialized from the rep's schedule when the day's first activity happened, so the
    # day's ledger rows and errors have a shift to hang on; it never overrides the schedule.
    planned = models.BooleanField(default=True)

    class Meta:
        # The source model declared unique_together outside Meta, so it never applied.
        constraints = [models.UniqueConstraint(fields=["rep", "date", "number"], name="shift_unique_per_rep_date_number")]
        ordering = ["date", "number"]

    def __str__(self) -> str:
        return f"{self.rep} {self.date} #{self.number}"


class Weekday(models.IntegerChoices):
    MONDAY = 0
    TUESDAY = 1
    WEDNESDAY = 2
    THURSDAY = 3
    FRIDAY = 4
    SATURDAY = 5
    SUNDAY = 6


class WeeklyWindow(models.Model):
    """One shift window of a rep's week, local to the rep's zone (or a rep-channel's override).
    Several on one weekday = a split shift; end before start crosses midnight and belongs to the
    weekday it starts on. `activity` blank = every activity; a name = that activity's own hours:
    an activity with rows of its own uses only those. Overlaps are refused by
    salesreps.services.schedules, which writes these rows."""

    rep = models.ForeignKey(SalesRep, on_delete=models.CASCADE, related_name="weekly_windows")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start_time = models.TimeField()
    end_time = models.TimeField()
    activity = models.SlugField(max_length=50, blank=True, default="",
                                help_text="Blank: every activity; a name (like, comment…): that activity's own windows.")

    class Meta:
        ordering = ["weekday", "activity", "start_time"]
        constraints = [
            models.CheckConstraint(condition=models.Q(weekday__lte=6), name="weekly_window_weekday_0_6"),
            models.CheckConstraint(condition=~models.Q(start_time=models.F("end_time")), name="weekly_window_not_empty"),
            models.UniqueConstraint(fields=["rep", "weekday", "activity", "start_time"], name="weekly_window_unique_start"),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start_time:%H:%M}–{self.end_time:%H:%M}" + (
            f" ({self.activity})" if self.activity else "")

    def clean(self) -> None:
        if self.start_time is not None and self.start_time == self.end_time:
            raise ValidationError({"end_time": "end time equals start time: the window would be empty"})


class TimeOff(models.Model):
    """Days a rep does not work, first to last day inclusive (a holiday, a leave, one day off)."""

    rep = models.ForeignKey(SalesRep, on_delete=models.CASCADE, related_name="time_off")
    first_day = models.DateField()
    last_day = models.DateField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["first_day", "last_day"]
        verbose_name_plural = "time off"
        constraints = [
            models.CheckConstraint(condition=models.Q(last_day__gte=models.F("first_day")), name="time_off_ends_after_start"),
        ]
        indexes = [models.Index(fields=["rep", "last_day"])]

    def __str__(self) -> str:
        span = f"{self.first_day}" if self.first_day == self.last_day else f"{self.first_day} – {self.last_day}"
        return f"{span} {self.reason}".strip()

    def clean(self) -> None:
        if self.first_day and self.last_day and self.last_day < self.first_day:
            raise ValidationError({"last_day": f"last day {self.last_day} is before first day {self.first_day}"})


class ActivityRecord(models.Model):
    """The capacity ledger: one row per activity performed."""

    rep_channel_activity = models.ForeignKey(SalesRepChannelActivity, on_delete=models.CASCADE, related_name="records")
    shift = models.ForeignKey(WorkingShift, null=True, blank=True, on_delete=models.SET_NULL, related_name="records")
    shift_day = models.DateField()
    performed_at = models.DateTimeField()
    message_id = models.BigIntegerField(null=True, blank=True)
    activity_request_id = models.BigIntegerField(null=True, blank=True)  # inbox.ActivityRequest: any other activity

    class Meta:
        indexes = [models.Index(fields=["rep_channel_activity", "shift_day"])]
        constraints = [
            models.UniqueConstraint(fields=["message_id"], condition=models.Q(message_id__isnull=False), name="one_record_per_message"),
            models.UniqueConstraint(fields=["activity_request_id"], condition=models.Q(activity_request_id__isnull=False),
                                    name="one_record_per_activity_request"),
        ]


class DailyAllowance(models.Model):
    """Warm-up: the allowance of a rep-channel (or one activity) on one active shift day."""

    rep_channel = models.ForeignKey(SalesRepChannel, on_delete=models.CASCADE, related_name="allowances")
    rep_channel_activity = models.ForeignKey(
        SalesRepChannelActivity, null=True, blank=True, on_delete=models.CASCADE, related_name="allowances"
    )
    day = models.DateField()
    allowance = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rep_channel", "rep_channel_activity", "day"], name="allowance_unique_per_day",
                nulls_distinct=False,
            ),
        ]
        ordering = ["day"]


class ShiftError(models.Model):
    """What went wrong (or is worth knowing) during a rep's shift day. One row per rep-channel,
    shift day and code: a queue refused a hundred times outside the shift is one row counted
    a hundred times, its message the latest reason."""

    class Level(models.IntegerChoices):
        INFO = 0
        WARNING = 1
        ERROR = 2

    shift = models.ForeignKey(WorkingShift, null=True, blank=True, on_delete=models.CASCADE, related_name="errors")
    rep = models.ForeignKey(SalesRep, null=True, blank=True, on_delete=models.CASCADE, related_name="shift_errors")
    rep_channel = models.ForeignKey(SalesRepChannel, null=True, blank=True, on_delete=models.CASCADE, related_name="errors")
    day = models.DateField(null=True, blank=True)  # the shift day (the rep-channel's zone)
    message = models.TextField()
    code = models.CharField(max_length=50)
    level = models.PositiveSmallIntegerField(choices=Level.choices, default=Level.ERROR, validators=[MinValueValidator(0)])
    count = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    last_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rep_channel", "day", "code"], condition=models.Q(day__isnull=False),
                                    name="shift_error_one_per_day_and_code"),
        ]
        indexes = [models.Index(fields=["rep", "day"])]
