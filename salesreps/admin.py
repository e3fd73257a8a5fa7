"""Django admin for channels, reps and their ledger. Secrets are write-only here: the forms take
new values in password inputs that never render a value (blank keeps what is stored), and no
list or detail page shows a stored secret, only which ones are set. Channels, rep-channels and
shifts, on their own pages and inline, save through salesreps.services."""
from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models

from salesreps import services
from salesreps.models import (
    ActivityRecord,
    Channel,
    ChannelActivity,
    DailyAllowance,
    SalesRep,
    SalesRepChannel,
    SalesRepChannelActivity,
    ShiftError,
    Team,
    TimeOff,
    WeeklyWindow,
    WorkingShift,
)


def _secret_input() -> forms.PasswordInput:
    return forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})


def _values(form: forms.ModelForm, *, changed_only: bool, exclude: tuple[str, ...] = ()) -> dict:
    """The model fields of a valid form: all of them for a new row, else those the user changed
    (so a save does not write back values another writer changed meanwhile)."""
    model_fields = {f.name for f in form._meta.model._meta.concrete_fields if not f.primary_key}
    names = form.changed_data if changed_only else list(form.cleaned_data)
    return {n: form.cleaned_data[n] for n in names if n in model_fields and n in form.cleaned_data and n not in exclude}


def _become(instance: models.Model, saved: models.Model) -> models.Model:
    """The form's instance takes the saved row's id and stored values: the admin's inlines are saved
    against it, and its log entry and redirect use its id."""
    instance.pk = saved.pk
    instance.refresh_from_db()
    instance._state.adding = False
    return instance


class _ServiceSavedForm(forms.ModelForm):
    """A model form whose save writes through a service: `save(commit=False)` (the admin's
    save_form) only applies the values, `save()` (inline formsets) or `save_through_service()`
    (the admin's save_model) calls the service."""

    def save(self, commit=True):
        instance = super().save(commit=False)
        return self.save_through_service() if commit else instance

    def save_through_service(self) -> models.Model:
        raise NotImplementedError


class _ServiceSavedAdmin(admin.ModelAdmin):
    def save_model(self, request, obj, form, change):
        form.save_through_service()


class _KeepUsedRowsFormSet(forms.BaseInlineFormSet):
    """An inline's Delete box deletes without a confirmation page, and these rows cascade into the
    capacity ledger: refuse to delete one that has ledger rows behind it."""

    ledger: str = ""  # the lookup from the inline's model to ActivityRecord

    def clean(self):
        super().clean()
        for form in self.deleted_forms:
            if form.instance.pk and ActivityRecord.objects.filter(**{self.ledger: form.instance}).exists():
                raise forms.ValidationError(
                    f"{form.instance} has recorded activity and cannot be deleted here; switch it off instead "
                    "(capacity 0 or not available)."
                )


class _ChannelActivityFormSet(_KeepUsedRowsFormSet):
    ledger = "rep_channel_activity__activity"


class _RepChannelFormSet(_KeepUsedRowsFormSet):
    ledger = "rep_channel_activity__rep_channel"


class _RepChannelActivityFormSet(_KeepUsedRowsFormSet):
    ledger = "rep_channel_activity"


# --- Channels -------------------------------------------------------------------------------

class _ChannelAdminFormBase(_ServiceSavedForm):
    clear_secrets = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label="Remove secrets",
        help_text="Tick a stored secret to delete it.",
    )

    class Meta:
        model = Channel
        fields = ["name", "kind", "is_active", "team", "description", "routing_key", "internal_url", "external_url", "config",
                  "rate_limit_per_hour", "rate_limit_per_day", "cost_per_message"]  # never `secrets`

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stored = self.instance.secrets or {}
        self.fields["clear_secrets"].choices = [(k, k) for k in sorted(stored)]
        for key in services.SECRET_KEYS:
            self.fields[f"secret_{key}"].help_text = (
                "Stored. Leave blank to keep it; type a new value to replace it." if key in stored else "Not set."
            )

    def clean_name(self):
        name = self.cleaned_data["name"]
        if services.channel_name_taken(name, self.instance.pk):
            raise forms.ValidationError("A channel with this name already exists (names are unique ignoring case).")
        return name

    def save_through_service(self) -> Channel:
        updates = {k: self.cleaned_data[f"secret_{k}"] for k in services.SECRET_KEYS if self.cleaned_data.get(f"secret_{k}")}
        if self.instance._state.adding:
            saved = services.channel_create(secrets=updates, **_values(self, changed_only=False))
        else:
            saved = services.channel_update(channel=self.instance, secrets=updates,
                                            clear_secrets=self.cleaned_data.get("clear_secrets") or (),
                                            **_values(self, changed_only=True))
        return _become(self.instance, saved)


# One write-only input per secret the platform adapters read.
ChannelAdminForm = type(_ChannelAdminFormBase)(
    "ChannelAdminForm", (_ChannelAdminFormBase,),
    {
        "__module__": __name__,
        **{f"secret_{key}": forms.CharField(required=False, strip=False, label=key, widget=_secret_input())
           for key in services.SECRET_KEYS},
    },
)


class ChannelActivityInline(admin.TabularInline):
    model = ChannelActivity
    formset = _ChannelActivityFormSet
    extra = 1


@admin.register(Channel)
class ChannelAdmin(_ServiceSavedAdmin):
    form = ChannelAdminForm
    list_display = ["name", "kind", "is_active", "routing_key", "rate_limit_per_hour", "rate_limit_per_day",
                    "cost_per_message", "secrets_set"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "routing_key", "description"]
    inlines = [ChannelActivityInline]
    fieldsets = [
        (None, {"fields": ["name", "kind", "is_active", "team", "description", "routing_key"]}),
        ("Channel service", {"fields": ["internal_url", "external_url", "config"]}),
        ("Limits", {"fields": ["rate_limit_per_hour", "rate_limit_per_day", "cost_per_message"]}),
        ("Secrets (write-only)", {"fields": [f"secret_{key}" for key in services.SECRET_KEYS] + ["clear_secrets"]}),
    ]

    @admin.display(description="secrets set")
    def secrets_set(self, channel: Channel) -> str:
        return ", ".join(sorted(channel.secrets or {})) or "—"


@admin.register(ChannelActivity)
class ChannelActivityAdmin(admin.ModelAdmin):
    list_display = ["name", "channel"]
    list_filter = ["name", "channel__kind"]
    search_fields = ["name", "channel__name"]
    list_select_related = ["channel"]


# --- Reps and their channels ------------------------------------------------------------------

class RepChannelAdminForm(_ServiceSavedForm):
    """The rep-channel's password is write-only: blank keeps the stored one."""

    new_password = forms.CharField(required=False, strip=False, label="Password", widget=_secret_input())
    clear_password = forms.BooleanField(required=False, label="Remove the stored password")

    class Meta:
        model = SalesRepChannel
        fields = ["rep", "channel", "username", "is_available", "sandbox", "start_time", "end_time", "timezone",
                  "max_daily_capacity", "warmup_start", "warmup_step"]  # never `password`

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["new_password"].help_text = (
            "Stored. Leave blank to keep it." if self.instance.password else "Not set."
        )

    def clean_channel(self):
        channel = self.cleaned_data["channel"]
        if self.instance.pk and channel is not None and channel.pk != self.instance.channel_id:
            raise forms.ValidationError("A rep-channel's channel cannot be changed; create another rep-channel.")
        return channel

    def save_through_service(self) -> SalesRepChannel:
        password = {}
        if self.cleaned_data.get("clear_password"):
            password = {"password": None}  # the service clears it
        elif self.cleaned_data.get("new_password"):
            password = {"password": self.cleaned_data["new_password"]}
        if self.instance._state.adding:
            saved = services.rep_channel_create(rep=self.instance.rep, channel=self.instance.channel, **password,
                                                **_values(self, changed_only=False, exclude=("rep", "channel")))
        else:
            saved = services.rep_channel_update(rep_channel=self.instance, **password,
                                                **_values(self, changed_only=True, exclude=("channel",)))
        return _become(self.instance, saved)


class RepChannelInline(admin.StackedInline):
    model = SalesRepChannel
    form = RepChannelAdminForm
    formset = _RepChannelFormSet
    extra = 0
    show_change_link = True
    autocomplete_fields = ["channel"]


class WorkingShiftAdminForm(_ServiceSavedForm):
    class Meta:
        model = WorkingShift
        fields = ["rep", "date", "number", "start_time", "end_time", "is_day_off", "note"]

    def clean(self):
        # The refusals of salesreps.services.shifts, shown on the form before the service checks again.
        cleaned = super().clean()
        start, end = cleaned.get("start_time"), cleaned.get("end_time")
        if (start is None) != (end is None):
            self.add_error("end_time" if end is None else "start_time", "set both start and end time, or neither")
        elif start is not None and start == end:
            self.add_error("end_time", "end time equals start time: the window would be empty")
        if cleaned.get("is_day_off") and start is not None:
            self.add_error("is_day_off", "a day off has no working hours")
        return cleaned

    def save_through_service(self) -> WorkingShift:
        if self.instance._state.adding:
            shift = self.instance
            saved = services.shift_create(rep=shift.rep, date=shift.date, number=shift.number,
                                          **_values(self, changed_only=False, exclude=("rep", "date", "number")))
        else:
            saved = services.shift_update(shift=self.instance, **_values(self, changed_only=True))
        return _become(self.instance, saved)


class WorkingShiftInline(admin.TabularInline):
    model = WorkingShift
    form = WorkingShiftAdminForm
    extra = 0
    ordering = ["-date", "number"]


class _ScheduleFormSet(forms.BaseInlineFormSet):
    """The rep's weekly windows or time off, checked as a whole by salesreps.services.schedules
    (overlaps, activity names, ranges) and saved by SalesRepAdmin.save_related through
    rep_schedule_set, never row by row."""

    part = ""  # the rep_schedule_set argument: "week" or "time_off"

    def item(self, data: dict) -> dict:
        raise NotImplementedError

    def items(self) -> list[dict]:
        return [self.item(form.cleaned_data) for form in self.forms
                if form.cleaned_data and not self._should_delete_form(form)]

    def check(self, items: list[dict]) -> None:
        raise NotImplementedError

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        try:
            self.check(self.items())
        except ValidationError as exc:
            raise forms.ValidationError([m for messages in exc.message_dict.values() for m in messages]) from None

    def record_changes(self) -> None:
        """What the admin's history says was added, changed and deleted (the rows are replaced)."""
        kept = [f for f in self.forms if f.cleaned_data and not self._should_delete_form(f)]
        self.new_objects = [f.instance for f in kept if f.instance.pk is None and f.has_changed()]
        self.changed_objects = [(f.instance, f.changed_data) for f in kept if f.instance.pk is not None and f.has_changed()]
        self.deleted_objects = [f.instance for f in self.deleted_forms if f.instance.pk is not None]


class _WeekFormSet(_ScheduleFormSet):
    part = "week"

    def item(self, data: dict) -> dict:
        return {"weekday": data.get("weekday"), "start": data.get("start_time"), "end": data.get("end_time"),
                "activity": data.get("activity") or ""}

    def check(self, items: list[dict]) -> None:
        services.schedule_week_check(rep=self.instance, week=items)


class _TimeOffFormSet(_ScheduleFormSet):
    part = "time_off"

    def item(self, data: dict) -> dict:
        return {"first_day": data.get("first_day"), "last_day": data.get("last_day"), "reason": data.get("reason") or ""}

    def check(self, items: list[dict]) -> None:
        services.schedule_time_off_check(rep=self.instance, time_off=items)


class WeeklyWindowInline(admin.TabularInline):
    model = WeeklyWindow
    formset = _WeekFormSet
    extra = 0
    verbose_name_plural = "weekly windows (local to the rep's time zone; end before start crosses midnight)"


class TimeOffInline(admin.TabularInline):
    model = TimeOff
    formset = _TimeOffFormSet
    extra = 0


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "holiday_country"]
    search_fields = ["name"]

    # A team's reps lose what they managed or were shown through it: through the service.
    def delete_model(self, request, obj):
        services.teams_delete(team_ids=[obj.pk])

    def delete_queryset(self, request, queryset):
        services.teams_delete(team_ids=list(queryset.values_list("pk", flat=True)))


@admin.register(SalesRep)
class SalesRepAdmin(admin.ModelAdmin):
    list_display = ["full_name", "user", "team", "role", "is_available", "timezone", "phone", "country", "city"]
    list_filter = ["role", "is_available", "team", "country"]
    search_fields = ["full_name", "user__username", "user__email", "phone", "city"]
    list_select_related = ["user", "team"]
    raw_id_fields = ["user"]
    inlines = [WeeklyWindowInline, TimeOffInline, RepChannelInline, WorkingShiftInline]

    def save_related(self, request, form, formsets, change):
        # The week and the time off are replaced whole through the service (checked, under the rep's lock).
        schedule = {}
        for formset in formsets:
            if isinstance(formset, _ScheduleFormSet):
                schedule[formset.part] = formset.items()
                formset.record_changes()
        super().save_related(request, form, [f for f in formsets if not isinstance(f, _ScheduleFormSet)], change)
        if schedule:
            services.rep_schedule_set(rep=form.instance, timezone=form.instance.timezone, **schedule)

    def save_model(self, request, obj, form, change):
        # Through the service: a new role or team closes the user's sockets (they reconnect with the new groups).
        services.rep_save(rep=obj)
        if change and "is_available" in form.changed_data:
            # Through the service, so the rep's managers see the change live.
            services.rep_set_availability(rep=obj, available=obj.is_available)

    def delete_model(self, request, obj):
        services.reps_delete(rep_ids=[obj.pk])

    def delete_queryset(self, request, queryset):
        services.reps_delete(rep_ids=list(queryset.values_list("pk", flat=True)))


class RepChannelActivityInline(admin.TabularInline):
    model = SalesRepChannelActivity
    formset = _RepChannelActivityFormSet
    extra = 0

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # Offer only the activities of this rep-channel's channel.
        object_id = request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
        if db_field.name == "activity" and object_id:
            rep_channel = SalesRepChannel.objects.filter(pk=object_id).first()
            if rep_channel is not None:
                kwargs["queryset"] = ChannelActivity.objects.filter(channel_id=rep_channel.channel_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(SalesRepChannel)
class SalesRepChannelAdmin(_ServiceSavedAdmin):
    form = RepChannelAdminForm
    list_display = ["rep", "channel", "username", "password_set", "is_available", "sandbox", "start_time", "end_time",
                    "timezone", "max_daily_capacity", "warmup_start", "warmup_step"]
    list_filter = ["is_available", "sandbox", "channel__kind", "channel", "rep__team", "timezone"]
    search_fields = ["rep__full_name", "rep__user__username", "channel__name", "username"]
    list_select_related = ["rep", "channel"]
    autocomplete_fields = ["rep", "channel"]
    readonly_fields = ["last_sent_at"]
    inlines = [RepChannelActivityInline]

    @admin.display(boolean=True, description="password set")
    def password_set(self, rep_channel: SalesRepChannel) -> bool:
        return bool(rep_channel.password)


@admin.register(SalesRepChannelActivity)
class SalesRepChannelActivityAdmin(admin.ModelAdmin):
    list_display = ["rep_channel", "activity", "start_time", "end_time", "max_capacity"]
    list_filter = ["activity__name", "rep_channel__channel", "rep_channel__rep__team"]
    search_fields = ["rep_channel__rep__full_name", "rep_channel__channel__name", "activity__name"]
    list_select_related = ["rep_channel__rep", "rep_channel__channel", "activity__channel"]
    autocomplete_fields = ["rep_channel", "activity"]


# --- Shifts, ledger, warm-up, errors ------------------------------------------------------------

@admin.register(WorkingShift)
class WorkingShiftAdmin(_ServiceSavedAdmin):
    form = WorkingShiftAdminForm
    list_display = ["rep", "date", "number", "start_time", "end_time", "is_day_off", "note"]
    list_filter = ["is_day_off", "date", "rep__team"]
    search_fields = ["rep__full_name", "rep__user__username", "note"]
    list_select_related = ["rep"]
    autocomplete_fields = ["rep"]
    date_hierarchy = "date"


@admin.register(ActivityRecord)
class ActivityRecordAdmin(admin.ModelAdmin):
    """The capacity ledger: read-only, since every row counts against a cap."""

    list_display = ["performed_at", "shift_day", "rep_channel_activity", "shift", "message_id"]
    list_filter = ["shift_day", "rep_channel_activity__activity__name", "rep_channel_activity__rep_channel__channel"]
    search_fields = ["rep_channel_activity__rep_channel__rep__full_name", "=message_id"]
    list_select_related = ["rep_channel_activity__rep_channel__rep", "rep_channel_activity__rep_channel__channel",
                           "rep_channel_activity__activity__channel", "shift__rep"]
    date_hierarchy = "performed_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(DailyAllowance)
class DailyAllowanceAdmin(admin.ModelAdmin):
    list_display = ["day", "rep_channel", "rep_channel_activity", "allowance"]
    list_filter = ["day", "rep_channel__channel", "rep_channel__rep__team"]
    search_fields = ["rep_channel__rep__full_name", "rep_channel__channel__name"]
    list_select_related = ["rep_channel__rep", "rep_channel__channel", "rep_channel_activity__activity__channel",
                           "rep_channel_activity__rep_channel__rep", "rep_channel_activity__rep_channel__channel"]
    autocomplete_fields = ["rep_channel", "rep_channel_activity"]
    date_hierarchy = "day"


@admin.register(ShiftError)
class ShiftErrorAdmin(admin.ModelAdmin):
    list_display = ["created_at", "level", "code", "message", "shift", "rep_channel"]
    list_filter = ["level", "code", "created_at"]
    search_fields = ["message", "code", "rep_channel__rep__full_name", "shift__rep__full_name"]
    list_select_related = ["shift__rep", "rep_channel__rep", "rep_channel__channel"]
    autocomplete_fields = ["shift", "rep_channel"]
    date_hierarchy = "created_at"
