"""Constraints live in the database; secrets are ciphertext at rest; field validators say what is wrong."""
from __future__ import annotations

from datetime import date, time

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from salesreps.models import (
    Channel,
    ChannelActivity,
    SalesRepChannel,
    SalesRepChannelActivity,
    ShiftError,
    WorkingShift,
)
from salesreps.tests.conftest import make_channel, make_rep_channel


def _raw(sql: str, params: list) -> str:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def test_duplicate_shift_is_refused_by_the_database(rep):
    WorkingShift.objects.create(rep=rep, date=date(2025, 3, 3), number=1, start_time=time(9), end_time=time(13))
    with pytest.raises(IntegrityError, match="shift_unique_per_rep_date_number"), transaction.atomic():
        WorkingShift.objects.create(rep=rep, date=date(2025, 3, 3), number=1, start_time=time(14), end_time=time(18))
    assert WorkingShift.objects.filter(rep=rep).count() == 1


def test_split_shift_night_shift_and_day_off_coexist(rep):
    WorkingShift.objects.create(rep=rep, date=date(2025, 3, 3), number=1, start_time=time(9), end_time=time(13))
    WorkingShift.objects.create(rep=rep, date=date(2025, 3, 3), number=2, start_time=time(22), end_time=time(2))
    WorkingShift.objects.create(rep=rep, date=date(2025, 3, 4), number=1, is_day_off=True)
    assert list(WorkingShift.objects.filter(rep=rep).values_list("date", "number")) == [
        (date(2025, 3, 3), 1), (date(2025, 3, 3), 2), (date(2025, 3, 4), 1),
    ]


def test_channel_name_is_unique_ignoring_case_in_the_database(db):
    Channel.objects.create(name="WhatsApp Sales", kind="whatsapp")
    with pytest.raises(IntegrityError, match="channel_name_ci_unique"), transaction.atomic():
        Channel.objects.create(name="whatsapp SALES", kind="sms")
    assert Channel.objects.count() == 1


def test_activity_is_unique_per_channel(channel):
    with pytest.raises(IntegrityError), transaction.atomic():
        ChannelActivity.objects.create(channel=channel, name="message")
    ChannelActivity.objects.create(channel=make_channel(activities=()), name="message")


def test_rep_channel_is_unique_per_rep_and_channel(rep, channel):
    make_rep_channel(rep=rep, channel=channel)
    with pytest.raises(IntegrityError, match="rep_channel_unique"), transaction.atomic():
        SalesRepChannel.objects.create(rep=rep, channel=channel, start_time=time(9), end_time=time(17))


def test_rep_channel_window_may_not_be_empty_in_the_database(rep, channel):
    with pytest.raises(IntegrityError, match="rep_channel_window_not_empty"), transaction.atomic():
        SalesRepChannel.objects.create(rep=rep, channel=channel, start_time=time(9), end_time=time(9))


def test_rep_channel_activity_is_unique(rep, channel):
    rep_channel, rca = make_rep_channel(rep=rep, channel=channel)
    with pytest.raises(IntegrityError, match="rep_channel_activity_unique"), transaction.atomic():
        SalesRepChannelActivity.objects.create(rep_channel=rep_channel, activity=rca.activity)


def test_rep_channel_activity_must_belong_to_the_rep_channels_channel(rep, channel):
    rep_channel, _ = make_rep_channel(rep=rep, channel=channel)
    foreign = make_channel(activities=("comment",)).activities.get()
    with pytest.raises(ValidationError) as caught:
        SalesRepChannelActivity(rep_channel=rep_channel, activity=foreign).full_clean()
    assert "activity" in caught.value.message_dict


@pytest.mark.parametrize("phone, ok", [
    ("+14155552671", True), ("+33612345678", True), ("", True),
    ("0612345678", False), ("+1 415 555 2671", False), ("+999", False), ("phone", False),
])
def test_phone_must_be_e164(rep, phone, ok):
    rep.phone = phone
    if ok:
        rep.full_clean()
    else:
        with pytest.raises(ValidationError) as caught:
            rep.full_clean()
        assert "phone" in caught.value.message_dict


@pytest.mark.parametrize("tz, ok", [("Europe/Paris", True), ("UTC", True), ("Mars/Olympus", False), ("", True)])
def test_rep_channel_time_zone_must_be_iana(rep, channel, tz, ok):
    rep_channel = SalesRepChannel(rep=rep, channel=channel, start_time=time(9), end_time=time(17), timezone=tz)
    if ok:
        rep_channel.full_clean()
    else:
        with pytest.raises(ValidationError) as caught:
            rep_channel.full_clean()
        assert "timezone" in caught.value.message_dict


def test_rep_channel_clean_names_end_time_when_window_is_empty(rep, channel):
    with pytest.raises(ValidationError) as caught:
        SalesRepChannel(rep=rep, channel=channel, start_time=time(9), end_time=time(9)).full_clean()
    assert "end_time" in caught.value.message_dict


def test_shift_error_levels_are_info_warning_error(db):
    assert [c[0] for c in ShiftError.Level.choices] == [0, 1, 2]
    with pytest.raises(ValidationError) as caught:
        ShiftError(message="x", code="y", level=3).full_clean()
    assert "level" in caught.value.message_dict


def test_channel_secrets_are_ciphertext_at_rest(db):
    channel = Channel.objects.create(name="Meta", kind="messenger", secrets={"app_secret": "s3cr3t-app-value"})
    stored = _raw("SELECT secrets FROM salesreps_channel WHERE id = %s", [channel.id])
    assert "s3cr3t-app-value" not in stored and "app_secret" not in stored
    assert stored.startswith("gAAAA")  # a Fernet token
    assert Channel.objects.get(pk=channel.pk).secrets == {"app_secret": "s3cr3t-app-value"}


def test_rep_channel_password_is_ciphertext_at_rest(rep, channel):
    rep_channel, _ = make_rep_channel(rep=rep, channel=channel, username="riley", password="pa55-word-plain")
    stored = _raw("SELECT password FROM salesreps_salesrepchannel WHERE id = %s", [rep_channel.id])
    assert "pa55-word-plain" not in stored and stored.startswith("gAAAA")
    assert SalesRepChannel.objects.get(pk=rep_channel.pk).password == "pa55-word-plain"
