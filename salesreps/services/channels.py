"""Channels: names unique ignoring case, merged write-only secrets, their activities."""
from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Lower

from core.errors import save_unique
from core.logs import entity_log
from platforms import all_secret_names
from salesreps.models import Channel, ChannelActivity

log = entity_log("reps")


# Every secret name some platform adapter reads: the admin offers one write-only field per name.
SECRET_KEYS = all_secret_names()


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
    save_unique(channel, constraint="channel_name_ci_unique", taken=taken)


def _channel_activities_set(channel: Channel, names: Iterable[str]) -> None:
    """Make the channel's activities exactly `names` and "message"; one still used by a rep-channel
    stays (set its capacity to 0 to switch it off) so no ledger row is ever deleted by a rename."""
    wanted = list(dict.fromkeys(["message", *names]))  # every channel sends messages: "message" is always one
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
