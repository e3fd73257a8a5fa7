"""Sales-rep write path: availability, presence, the capacity ledger, warm-up, shift errors."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import IntegrityError, transaction
from django.db.models import Q, Value
from django.db.models.functions import Lower
from django.utils import timezone

from core.logs import entity_log
from core.presence import online_rep_ids
from core.realtime import ADMIN_GROUP, broadcast, emit, team_group
from salesreps import rules
from salesreps.models import (
    ActivityRecord,
    Channel,
    ChannelActivity,
    DailyAllowance,
    SalesRep,
    SalesRepChannel,
    SalesRepChannelActivity,
    ShiftError,
    WorkingShift,
)
from salesreps.selectors import manager_user_ids

log = entity_log("reps")


class CapacityRefused(Exception):
    """The activity may not be performed now; `code` and `reason` say which limit binds."""

    def __init__(self, code: str, reason: str, until: datetime | None = None):
        super().__init__(reason)
        self.code, self.reason, self.until = code, reason, until


def rep_presence_changed(*, rep_id: int, online: bool) -> None:
    rep = SalesRep.objects.filter(pk=rep_id).first()
    if rep is None:
        return
    # Sockets open and close all day: sent once to the team's managers and the admins, not stored
    # (the dashboard re-reads presence when it reconnects).

    groups = [ADMIN_GROUP] + ([team_group(rep.team_id)] if rep.team_id else [])
    with transaction.atomic():
        broadcast("rep.presence", {"rep_id": rep.id, "online": online, "available": rep.is_available}, groups)


@transaction.atomic
def rep_set_availability(*, rep: SalesRep, available: bool, channel_id: int | None = None) -> None:
    """Global availability (channel_id None) or one rep-channel's flag."""

    if channel_id is None:
        SalesRep.objects.filter(pk=rep.pk).update(is_available=available)
        rep.is_available = available
    else:
        updated = SalesRepChannel.objects.filter(rep=rep, channel_id=channel_id).update(is_available=available)
        if not updated:
            raise ValueError(f"rep {rep.id} has no channel {channel_id}")
    emit("rep.presence", {"rep_id": rep.id, "online": rep.id in online_rep_ids([rep.id]), "available": rep.is_available},
         manager_user_ids(rep) + [rep.user_id])
    log.info("availability changed", rep=rep.id, channel=channel_id, available=available)


def schedule_for(rep_channel: SalesRepChannel, activity: SalesRepChannelActivity | None, *,
                 around: datetime | None = None) -> rules.Schedule:
    """The rep-channel-activity's working schedule: its daily window, the rep's dated shifts as
    per-date overrides, and the rep's days off. Dated shifts are loaded only for the local dates
    from 2 days before `around` (default now) to 400 days after, which is as far as the rules
    look ahead (next_opening's horizon); outside that range the daily window applies."""
    window = rules.effective_window(
        channel_start=rep_channel.start_time, channel_end=rep_channel.end_time,
        activity_start=activity.start_time if activity else None, activity_end=activity.end_time if activity else None,
    )
    # An activity with its own hours keeps them every day and ignores the rep's dated shifts:
    # an activity narrower (or wider) than the shift is the activity's business. Intersecting
    # the two is possible but not worth it; days off still apply to every activity.
    activity_hours = activity is not None and activity.start_time is not None and activity.end_time is not None
    shifts = WorkingShift.objects.filter(rep_id=rep_channel.rep_id)
    wanted = Q(is_day_off=True)
    if not activity_hours:
        today = (around or timezone.now()).astimezone(ZoneInfo(rep_channel.timezone)).date()
        wanted |= Q(is_day_off=False, date__gte=today - timedelta(days=2), date__lte=today + timedelta(days=400),
                    start_time__isnull=False, end_time__isnull=False)
    days_off: set[date] = set()
    overrides: dict[date, list[rules.Window]] = defaultdict(list)
    rows = shifts.filter(wanted).order_by("date", "number").values_list("date", "start_time", "end_time", "is_day_off")
    for day, start, end, is_day_off in rows:
        if is_day_off:
            days_off.add(day)
        elif start != end:  # every shift of the date (several = a split shift); skip empty ones
            overrides[day].append(rules.Window(start, end))
    return rules.Schedule(
        tz=rep_channel.timezone, windows=(window,), days_off=frozenset(days_off),
        overrides={day: tuple(windows) for day, windows in overrides.items()},
    )


def max_capacity(rep_channel: SalesRepChannel, activity: SalesRepChannelActivity | None) -> int:
    if activity is not None and activity.max_capacity is not None:
        return activity.max_capacity
    return rep_channel.max_daily_capacity


def _allowance_owner(activity: SalesRepChannelActivity | None) -> SalesRepChannelActivity | None:
    # An activity with its own max ramps on its own; the others share the rep-channel's ramp.
    return activity if activity is not None and activity.max_capacity is not None else None


def _allowance_lookup(
    rep_channel: SalesRepChannel, activity: SalesRepChannelActivity | None, day: date
) -> tuple[int, bool]:
    """(allowance, stored?): the stored row's value, else what the next active day would get."""
    rows = DailyAllowance.objects.filter(rep_channel=rep_channel, rep_channel_activity=_allowance_owner(activity))
    stored = rows.filter(day=day).values_list("allowance", flat=True).first()
    if stored is not None:
        return stored, True
    previous = rows.filter(day__lt=day).order_by("-day").values_list("allowance", flat=True).first()
    allowance = rules.next_allowance(
        previous=previous, max_capacity=max_capacity(rep_channel, activity),
        warmup_start=rep_channel.warmup_start, warmup_step=rep_channel.warmup_step,
    )
    return allowance, False


def allowance_for(*, rep_channel: SalesRepChannel, activity: SalesRepChannelActivity | None, day: date) -> int:
    """Today's warm-up allowance, stored per active day so it survives restarts and can be shown.
    Caller holds the rep-channel row lock when it may create the row."""
    allowance, stored = _allowance_lookup(rep_channel, activity, day)
    if stored:
        return allowance
    row, _ = DailyAllowance.objects.get_or_create(
        rep_channel=rep_channel, rep_channel_activity=_allowance_owner(activity), day=day,
        defaults={"allowance": allowance},
    )
    # A racer without the lock may have stored the day first: the stored value is the truth.
    return row.allowance


def used_on(*, activity: SalesRepChannelActivity, day: date) -> int:
    return ActivityRecord.objects.filter(rep_channel_activity=activity, shift_day=day).count()


def activity_check(*, rep_channel: SalesRepChannel, activity: SalesRepChannelActivity, at: datetime) -> tuple[date, int]:
    """(shift day, remaining) if the activity may happen at `at`; raises CapacityRefused otherwise.
    Caller holds the rep-channel row lock."""
    rep = rep_channel.rep
    if not rules.is_available(rep_available=rep.is_available, channel_available=rep_channel.is_available):
        raise CapacityRefused("unavailable", "rep is marked unavailable")
    schedule = schedule_for(rep_channel, activity, around=at)
    if not rules.is_open(schedule=schedule, at=at):
        opening = rules.next_opening(schedule=schedule, at=at)
        raise CapacityRefused("outside_shift", f"outside shift until {_local(opening, rep_channel.timezone)}", opening)
    day = rules.shift_day(schedule=schedule, at=at)
    cap = max_capacity(rep_channel, activity)
    if cap == 0:
        raise CapacityRefused("activity_off", "activity is off for this rep-channel (capacity 0)")
    allowance = allowance_for(rep_channel=rep_channel, activity=activity, day=day)
    remaining = rules.remaining(allowance=min(allowance, cap), used=used_on(activity=activity, day=day))
    if remaining <= 0:
        end = rules.current_window_end(schedule=schedule, at=at) or at
        opening = rules.next_opening(schedule=schedule, at=_after_shift_day(schedule, day, end))
        code = "warmup" if allowance < cap else "activity_cap"
        what = "warm-up allowance" if code == "warmup" else "daily capacity"
        figure = allowance if code == "warmup" else cap
        raise CapacityRefused(code, f"{what} reached ({figure}), next shift {_local(opening, rep_channel.timezone)}", opening)
    return day, remaining


def _after_shift_day(schedule: rules.Schedule, day: date, end: datetime) -> datetime:
    """The first instant whose shift day is later than `day`: capacity is counted per shift day."""
    probe = end
    for _ in range(400):
        if rules.shift_day(schedule=schedule, at=probe) > day and rules.is_open(schedule=schedule, at=probe):
            return probe
        nxt = rules.next_opening(schedule=schedule, at=probe + timedelta(seconds=1))
        if nxt is None:
            return probe
        probe = nxt
    return probe


def _local(instant: datetime | None, tz: str) -> str:
    if instant is None:
        return "no further shift"

    return f"{instant.astimezone(ZoneInfo(tz)):%Y-%m-%d %H:%M} {tz}"


@transaction.atomic
def activity_record(*, rep_channel_activity_id: int, at: datetime | None = None, message_id: int | None = None) -> ActivityRecord:
    """Record one activity if window and capacity allow: the rep-channel row lock serialises racers,
    so the cap is never exceeded however many workers try at once."""
    at = at or timezone.now()
    activity = SalesRepChannelActivity.objects.select_related("activity").get(pk=rep_channel_activity_id)
    # Lock the rep-channel row only (of=self): the joined rep row stays free for availability toggles.
    rep_channel = SalesRepChannel.objects.select_for_update(of=("self",)).select_related("rep").get(pk=activity.rep_channel_id)
    activity_check(rep_channel=rep_channel, activity=activity, at=at)
    record = activity_record_unchecked(rep_channel=rep_channel, activity=activity, at=at, message_id=message_id)
    day = record.shift_day
    log.info("activity recorded", rep=rep_channel.rep_id, rep_channel=rep_channel.id, activity=activity.activity.name,
             shift_day=day, message=message_id)
    return record


def shift_error_record(*, message: str, code: str, level: int, shift: WorkingShift | None = None,
                       rep_channel: SalesRepChannel | None = None) -> ShiftError:
    if level not in (0, 1, 2):
        raise ValueError("level must be 0 (info), 1 (warning) or 2 (error)")
    error = ShiftError.objects.create(shift=shift, rep_channel=rep_channel, message=message, code=code, level=level)
    log.warning("shift error", rep_channel=rep_channel.id if rep_channel else None, code=code, level=level)
    return error


def activity_record_unchecked(*, rep_channel: SalesRepChannel, activity: SalesRepChannelActivity, at: datetime,
                              message_id: int | None = None) -> ActivityRecord:
    """Write the ledger row after the caller ran activity_check under the same rep-channel lock,
    against the shift whose hours contain `at` (split shifts), else the day's first shift."""
    schedule = schedule_for(rep_channel, activity, around=at)
    day = rules.shift_day(schedule=schedule, at=at)
    shifts = list(WorkingShift.objects.filter(rep_id=rep_channel.rep_id, date=day, is_day_off=False).order_by("number"))
    shift = next((s for s in shifts if s.start_time and s.end_time and s.start_time != s.end_time and rules.is_open(
        schedule=rules.Schedule(tz=rep_channel.timezone, windows=(rules.Window(s.start_time, s.end_time),)), at=at)),
        shifts[0] if shifts else None)
    return ActivityRecord.objects.create(rep_channel_activity=activity, shift=shift, shift_day=day, performed_at=at, message_id=message_id)


# --- Channels ---------------------------------------------------------------------------

# The secret names the platform adapters read (platforms/*.py, webhooks/pipeline.py).
SECRET_KEYS = (
    "app_secret", "access_token", "auth_token", "verify_token", "signing_key", "secret",
    "smtp_username", "smtp_password",
)


def secrets_merged(*, stored: dict, updates: dict | None = None, clear: Iterable[str] = ()) -> dict:
    """Stored secrets with `updates` applied: a value replaces, None or "" removes; `clear` removes."""
    merged = dict(stored or {})
    for key, value in (updates or {}).items():
        if value is None or value == "":
            merged.pop(key, None)
        elif not isinstance(value, str):
            raise ValidationError({"secrets": f"secret {key!r} must be a string"})
        else:
            merged[key] = value
    for key in clear:
        merged.pop(key, None)
    return merged


def channel_name_taken(name: str, exclude_pk: int | None) -> bool:
    # The same Lower() the database constraint uses, so both agree on what "same name" means.
    return Channel.objects.alias(lname=Lower("name")).filter(lname=Lower(Value(name))).exclude(pk=exclude_pk).exists()


def _channel_save(channel: Channel) -> None:
    taken = ValidationError({"name": f"a channel named {channel.name!r} already exists (names are unique ignoring case)"})
    if channel_name_taken(channel.name, channel.pk):
        raise taken
    channel.full_clean()
    try:
        with transaction.atomic():
            channel.save()
    except IntegrityError as exc:
        if "channel_name_ci_unique" in str(exc):
            raise taken from None
        raise


def _channel_activities_set(channel: Channel, names: Iterable[str]) -> None:
    """Make the channel's activities exactly `names`; one still used by a rep-channel stays (set its
    capacity to 0 to switch it off) so no ledger row is ever deleted by a rename."""
    wanted = list(dict.fromkeys(names))
    for name in wanted:
        try:
            validate_slug(name)
        except ValidationError:
            raise ValidationError({"activities": f"{name!r} is not a valid activity name (letters, digits, - and _)"}) from None
    existing = {a.name: a for a in channel.activities.all()}
    removed = [a for name, a in existing.items() if name not in wanted]
    in_use = sorted(a.name for a in removed if a.rep_activities.exists())
    if in_use:
        raise ValidationError({"activities": f"still used by rep-channels: {', '.join(in_use)}; set their capacity to 0 instead"})
    ChannelActivity.objects.filter(pk__in=[a.pk for a in removed]).delete()
    ChannelActivity.objects.bulk_create(ChannelActivity(channel=channel, name=n) for n in wanted if n not in existing)


@transaction.atomic
def channel_create(*, activities: Iterable[str] = (), secrets: dict | None = None, **fields) -> Channel:
    channel = Channel(**fields, secrets=secrets_merged(stored={}, updates=secrets))
    _channel_save(channel)
    _channel_activities_set(channel, activities)
    log.info("channel created", channel=channel.id, kind=channel.kind)
    return channel


@transaction.atomic
def channel_update(
    *, channel: Channel, activities: Iterable[str] | None = None, secrets: dict | None = None,
    clear_secrets: Iterable[str] = (), **fields,
) -> Channel:
    """Change a channel. Secrets merge into the stored ones (see secrets_merged): a secret is never
    read back, so a caller cannot resend it and must not lose it by leaving it out."""
    channel = Channel.objects.select_for_update().get(pk=channel.pk)
    for name, value in fields.items():
        setattr(channel, name, value)
    channel.secrets = secrets_merged(stored=channel.secrets, updates=secrets, clear=clear_secrets)
    _channel_save(channel)
    if activities is not None:
        _channel_activities_set(channel, activities)
    log.info("channel updated", channel=channel.id, fields=",".join(sorted(fields)) or None,
             secrets=",".join(sorted(secrets or {})) or None)
    return channel


# --- Rep-channels -----------------------------------------------------------------------

def _activity_rows(rep_channel: SalesRepChannel, items: Iterable[dict]) -> None:
    """Create or change the rep-channel's activities by name; absent ones are left alone
    (max_capacity 0 switches one off without losing its ledger)."""
    offered = {a.name: a for a in rep_channel.channel.activities.all()}
    current = {a.activity.name: a for a in rep_channel.activities.select_related("activity")}
    for item in items:
        name = item["activity"]
        if name not in offered:
            has = ", ".join(sorted(offered)) or "none"
            raise ValidationError({"activities": f"channel {rep_channel.channel.name!r} has no activity {name!r} (it has: {has})"})
        row = current.get(name) or SalesRepChannelActivity(rep_channel=rep_channel, activity=offered[name])
        for field in ("start_time", "end_time", "max_capacity"):
            if field in item:
                setattr(row, field, item[field])
        if (row.start_time is None) != (row.end_time is None):
            raise ValidationError({"activities": f"{name}: set both start_time and end_time, or neither"})
        try:
            row.full_clean(validate_constraints=False)
        except ValidationError as exc:
            raise ValidationError({"activities": [f"{name}: {field}: {' '.join(msgs)}"
                                                  for field, msgs in exc.message_dict.items()]}) from None
        row.save()
        current[name] = row


def _rep_channel_fields(rep_channel: SalesRepChannel, fields: dict) -> None:
    for name, value in fields.items():
        if name == "password":
            if value == "":
                continue  # blank keeps the stored password (it is never shown, so never resent)
            value = value or ""  # None clears it
        setattr(rep_channel, name, value)


@transaction.atomic
def rep_channel_create(*, rep: SalesRep, channel: Channel, activities: Iterable[dict] = (), **fields) -> SalesRepChannel:
    taken = ValidationError({"channel": f"{rep} already has channel {channel.name!r}"})
    if SalesRepChannel.objects.filter(rep=rep, channel=channel).exists():
        raise taken
    rep_channel = SalesRepChannel(rep=rep, channel=channel)
    _rep_channel_fields(rep_channel, fields)
    rep_channel.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            rep_channel.save()
    except IntegrityError as exc:
        if "rep_channel_unique" in str(exc):
            raise taken from None
        raise
    _activity_rows(rep_channel, activities)
    log.info("rep-channel created", rep=rep.id, rep_channel=rep_channel.id, channel=channel.id)
    return rep_channel


@transaction.atomic
def rep_channel_update(*, rep_channel: SalesRepChannel, activities: Iterable[dict] | None = None, **fields) -> SalesRepChannel:
    """Change a rep-channel under its row lock, so no activity is recorded against half-changed limits."""
    rep_channel = SalesRepChannel.objects.select_for_update(of=("self",)).select_related("channel", "rep").get(pk=rep_channel.pk)
    if "channel" in fields and fields.pop("channel").pk != rep_channel.channel_id:
        raise ValidationError({"channel": "a rep-channel's channel cannot be changed; create another rep-channel"})
    _rep_channel_fields(rep_channel, fields)
    rep_channel.full_clean(validate_constraints=False)
    rep_channel.save()
    if activities is not None:
        _activity_rows(rep_channel, activities)
    log.info("rep-channel updated", rep=rep_channel.rep_id, rep_channel=rep_channel.id,
             fields=",".join(sorted(set(fields) - {"password"})) or None)
    return rep_channel


# --- Shifts -----------------------------------------------------------------------------

def _shift_save(shift: WorkingShift) -> None:
    taken = ValidationError({"number": f"{shift.rep} already has shift {shift.number} on {shift.date}"})
    if (shift.start_time is None) != (shift.end_time is None):
        raise ValidationError({"end_time" if shift.end_time is None else "start_time": "set both start and end time, or neither"})
    if shift.start_time is not None and shift.start_time == shift.end_time:
        raise ValidationError({"end_time": "end time equals start time: the window would be empty"})
    if shift.is_day_off and shift.start_time is not None:
        raise ValidationError({"is_day_off": "a day off has no working hours"})
    shift.full_clean(validate_constraints=False)
    if WorkingShift.objects.filter(rep_id=shift.rep_id, date=shift.date, number=shift.number).exclude(pk=shift.pk).exists():
        raise taken
    try:
        with transaction.atomic():
            shift.save()
    except IntegrityError as exc:
        if "shift_unique_per_rep_date_number" in str(exc):
            raise taken from None
        raise


@transaction.atomic
def shift_create(*, rep: SalesRep, date: date, number: int = 1, **fields) -> WorkingShift:
    """One of the rep's shifts on a date; end before start crosses midnight; is_day_off marks a day off."""
    shift = WorkingShift(rep=rep, date=date, number=number, **fields)
    _shift_save(shift)
    log.info("shift created", rep=rep.id, shift=shift.id, date=date, number=number)
    return shift


@transaction.atomic
def shift_update(*, shift: WorkingShift, **fields) -> WorkingShift:
    shift = WorkingShift.objects.select_for_update().select_related("rep").get(pk=shift.pk)
    for name, value in fields.items():
        setattr(shift, name, value)
    _shift_save(shift)
    log.info("shift updated", rep=shift.rep_id, shift=shift.id)
    return shift


# --- Today ------------------------------------------------------------------------------

def channel_usage(*, channel: Channel, at: datetime) -> dict[str, dict]:
    """The channel's rate limits against its ledger (every rep, every activity), over the rolling
    hour and day ending at `at`: {"channel_hourly": {limit, used, frees_at}, "channel_daily": …}."""
    out = {}
    records = ActivityRecord.objects.filter(rep_channel_activity__rep_channel__channel=channel, performed_at__lte=at)
    for name, limit, span in (("channel_hourly", channel.rate_limit_per_hour, timedelta(hours=1)),
                              ("channel_daily", channel.rate_limit_per_day, timedelta(days=1))):
        if limit is None:
            continue
        recent = records.filter(performed_at__gt=at - span)
        used = recent.count()
        frees_at = None
        if used >= limit:
            # The slot that frees first is the one taken `used - limit` places after the oldest.
            oldest = recent.order_by("performed_at").values_list("performed_at", flat=True)[used - limit]
            frees_at = oldest + span
        out[name] = {"limit": limit, "used": used, "frees_at": frees_at}
    return out


def _activity_today(rep: SalesRep, rep_channel: SalesRepChannel, activity: SalesRepChannelActivity,
                    at: datetime, usage: dict[str, dict]) -> dict:
    schedule = schedule_for(rep_channel, activity, around=at)
    open_now = rules.is_open(schedule=schedule, at=at)
    day = rules.shift_day(schedule=schedule, at=at)
    cap = max_capacity(rep_channel, activity)
    allowance, stored = _allowance_lookup(rep_channel, activity, day)
    allowance = min(allowance, cap)
    used = used_on(activity=activity, day=day)
    limits = {"activity_cap": cap - used, "warmup": allowance - used,
              **{name: u["limit"] - u["used"] for name, u in usage.items()}}
    binding, left = rules.binding_limit(limits=limits)
    available = rules.is_available(rep_available=rep.is_available, channel_available=rep_channel.is_available)

    if not available:
        blocked_by, next_open = "unavailable", None
    elif cap == 0:
        blocked_by, next_open = "activity_off", None
    elif left <= 0 and binding in usage:
        blocked_by = binding
        next_open = rules.next_opening(schedule=schedule, at=max(at, usage[binding]["frees_at"]))
    elif left <= 0:
        blocked_by = binding
        end = rules.current_window_end(schedule=schedule, at=at) or at
        next_open = _after_shift_day(schedule, day, end)
    elif not open_now:
        blocked_by, next_open = "outside_shift", rules.next_opening(schedule=schedule, at=at)
    else:
        blocked_by, next_open = None, at
    return {
        "rep_channel_activity_id": activity.id,
        "activity": activity.activity.name,
        "shift_day": day,
        "windows": [{"start": w.start, "end": w.end, "crosses_midnight": w.crosses_midnight}
                    for w in rules.windows_on(schedule=schedule, day=day)],
        "day_off": day in schedule.days_off,
        "open_now": open_now,
        "window_closes": rules.current_window_end(schedule=schedule, at=at) if open_now else None,
        "next_opening": next_open,
        "max_capacity": cap,
        "allowance": allowance,
        "allowance_stored": stored,
        "used": used,
        "remaining": max(0, left),
        "binding_limit": binding,
        "blocked_by": blocked_by,
    }


def rep_today(*, rep: SalesRep, at: datetime | None = None) -> dict:
    """Per channel and activity, what the rep may do today: allowance, used, remaining, window,
    next opening and the limit that binds. Reads only: the day's allowance row is stored by the
    first activity actually recorded, so looking never advances the warm-up."""
    at = at or timezone.now()
    rep = SalesRep.objects.get(pk=rep.pk)
    rep_channels = (SalesRepChannel.objects.filter(rep=rep).select_related("channel")
                    .prefetch_related("activities__activity").order_by("channel__name", "id"))
    channels = []
    for rep_channel in rep_channels:
        usage = channel_usage(channel=rep_channel.channel, at=at)
        activities = sorted(rep_channel.activities.all(), key=lambda a: a.activity.name)
        channels.append({
            "rep_channel_id": rep_channel.id,
            "channel_id": rep_channel.channel_id,
            "channel": rep_channel.channel.name,
            "available": rules.is_available(rep_available=rep.is_available, channel_available=rep_channel.is_available),
            "sandbox": rep_channel.sandbox,
            "timezone": rep_channel.timezone,
            "channel_limits": usage,
            "activities": [_activity_today(rep, rep_channel, a, at, usage) for a in activities],
        })
    return {"rep_id": rep.id, "at": at, "available": rep.is_available, "channels": channels}
