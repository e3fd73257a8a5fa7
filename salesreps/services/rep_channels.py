"""Rep-channels: a rep on a channel with its hours, limits, warm-up and activities."""
from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction

from core.errors import save_unique
from core.logs import entity_log
from salesreps.models import Channel, SalesRep, SalesRepChannel, SalesRepChannelActivity

log = entity_log("reps")


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
    save_unique(rep_channel, constraint="rep_channel_unique", taken=taken)
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
