"""The write path on real PostgreSQL: the capacity race, warm-up persistence, availability events,
channel / rep-channel / shift input checks, and a rep's "today"."""
from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from core.models import UserEvent
from salesreps import rules, selectors, services
from salesreps.models import (
    ActivityRecord,
    Channel,
    ChannelActivity,
    DailyAllowance,
    SalesRepChannel,
    SalesRepChannelActivity,
    ShiftError,
    WorkingShift,
)
from salesreps.selectors import rep_today
from salesreps.services import CapacityRefused, activity_check, activity_record, allowance_for
from salesreps.tests.conftest import make_channel, make_rep, make_rep_channel

PARIS = ZoneInfo("Europe/Paris")
MONDAY = date(2025, 3, 3)


def paris(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), PARIS)


# --- The race ---------------------------------------------------------------------------------

def test_twenty_racers_against_a_cap_of_ten_record_exactly_ten(transactional_db):
    rep = make_rep()
    channel = make_channel()
    _, rca = make_rep_channel(rep=rep, channel=channel, max_daily_capacity=10, start_time=time(8), end_time=time(20))
    at = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
    barrier = threading.Barrier(20)
    outcomes: list = []
    lock = threading.Lock()

    def racer():
        try:
            barrier.wait(timeout=30)
            activity_record(rep_channel_activity_id=rca.id, at=at)
            outcome = "recorded"
        except CapacityRefused as refused:
            outcome = refused
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=racer) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    refused = [o for o in outcomes if isinstance(o, CapacityRefused)]
    assert len(outcomes) == 20
    assert outcomes.count("recorded") == 10
    assert len(refused) == 10
    assert {r.code for r in refused} == {"activity_cap"}
    assert all("daily capacity reached (10)" in r.reason for r in refused)
    assert all(r.until is not None and r.until > at for r in refused)
    assert ActivityRecord.objects.filter(rep_channel_activity=rca).count() == 10
    assert ActivityRecord.objects.filter(rep_channel_activity=rca, shift_day=date(2025, 3, 3)).count() == 10


# --- Warm-up ----------------------------------------------------------------------------------

@pytest.fixture
def warming(rep, channel):
    """A new rep-channel: max 100, warm-up from 10 by 10, 09:00–17:00 Paris."""
    return make_rep_channel(rep=rep, channel=channel, timezone="Europe/Paris", start_time=time(9), end_time=time(17),
                            max_daily_capacity=100, warmup_start=10, warmup_step=10)


def _check(rep_channel_id: int, rca: SalesRepChannelActivity, at: datetime) -> tuple[date, int]:
    with transaction.atomic():
        rep_channel = SalesRepChannel.objects.select_for_update(of=("self",)).select_related("rep").get(pk=rep_channel_id)
        return activity_check(rep_channel=rep_channel, activity=rca, at=at)


def test_warmup_grows_by_step_on_successive_active_days_and_survives_a_restart(warming):
    rep_channel, rca = warming
    expected = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 100, 100]
    days = [MONDAY + timedelta(days=k) for k in range(12)]
    for day, allowance in zip(days, expected, strict=True):
        at = paris(day, 10)
        assert _check(rep_channel.id, rca, at) == (day, allowance)
        assert allowance_for(rep_channel=rep_channel, activity=rca, day=day) == allowance
        activity_record(rep_channel_activity_id=rca.id, at=at)
        assert _check(rep_channel.id, rca, at) == (day, allowance - 1)

    # "Restart": nothing in memory is reused, and the ramp's inputs change under it. The figures
    # still come back the same, so they are read from the stored rows, not recomputed.
    SalesRepChannel.objects.filter(pk=rep_channel.pk).update(warmup_start=1, warmup_step=0)
    fresh_channel = SalesRepChannel.objects.get(pk=rep_channel.pk)
    fresh_rca = SalesRepChannelActivity.objects.get(pk=rca.pk)
    assert [allowance_for(rep_channel=fresh_channel, activity=fresh_rca, day=d) for d in days] == expected
    assert list(DailyAllowance.objects.filter(rep_channel=rep_channel).values_list("day", "allowance")) == list(
        zip(days, expected, strict=True))
    assert DailyAllowance.objects.filter(rep_channel=rep_channel, rep_channel_activity__isnull=False).count() == 0
    assert ActivityRecord.objects.filter(rep_channel_activity=rca).count() == 12


def test_warmup_counts_active_days_not_calendar_days(warming):
    rep_channel, rca = warming
    assert _check(rep_channel.id, rca, paris(MONDAY, 10))[1] == 10
    # Nothing happens for four days; the next active day is the ramp's second day.
    assert _check(rep_channel.id, rca, paris(MONDAY + timedelta(days=5), 10))[1] == 20


def test_warmup_allowance_binds_before_the_cap_with_its_own_reason(warming):
    rep_channel, rca = warming
    for minute in range(10):
        activity_record(rep_channel_activity_id=rca.id, at=paris(MONDAY, 10, minute))
    with pytest.raises(CapacityRefused) as caught:
        activity_record(rep_channel_activity_id=rca.id, at=paris(MONDAY, 11))
    assert caught.value.code == "warmup"
    assert "warm-up allowance reached (10)" in caught.value.reason
    assert caught.value.until == paris(MONDAY + timedelta(days=1), 9)


def test_an_activity_with_its_own_max_ramps_on_its_own(warming, channel):
    rep_channel, rca = warming
    like = SalesRepChannelActivity.objects.create(rep_channel=rep_channel, activity=channel.activities.get(name="like"),
                                                  max_capacity=15)
    assert _check(rep_channel.id, like, paris(MONDAY, 10)) == (MONDAY, 10)
    assert _check(rep_channel.id, like, paris(MONDAY + timedelta(days=1), 10)) == (MONDAY + timedelta(days=1), 15)
    assert _check(rep_channel.id, rca, paris(MONDAY + timedelta(days=1), 10)) == (MONDAY + timedelta(days=1), 10)


# --- Refusals ---------------------------------------------------------------------------------

def test_outside_the_window_is_refused_until_it_opens(warming):
    _, rca = warming
    with pytest.raises(CapacityRefused) as caught:
        activity_record(rep_channel_activity_id=rca.id, at=paris(MONDAY, 7))
    assert caught.value.code == "outside_shift"
    assert caught.value.until == paris(MONDAY, 9)
    assert not ActivityRecord.objects.exists()


def test_an_unavailable_rep_is_refused_on_every_channel(warming, rep):
    _, rca = warming
    services.rep_set_availability(rep=rep, available=False)
    with pytest.raises(CapacityRefused) as caught:
        activity_record(rep_channel_activity_id=rca.id, at=paris(MONDAY, 10))
    assert caught.value.code == "unavailable"


def test_capacity_zero_switches_the_activity_off(warming):
    _, rca = warming
    SalesRepChannelActivity.objects.filter(pk=rca.pk).update(max_capacity=0)
    with pytest.raises(CapacityRefused) as caught:
        activity_record(rep_channel_activity_id=rca.id, at=paris(MONDAY, 10))
    assert caught.value.code == "activity_off"


def test_day_off_closes_the_window(warming, rep):
    _, rca = warming
    WorkingShift.objects.create(rep=rep, date=MONDAY, is_day_off=True)
    with pytest.raises(CapacityRefused) as caught:
        activity_record(rep_channel_activity_id=rca.id, at=paris(MONDAY, 10))
    assert caught.value.code == "outside_shift"
    assert caught.value.until == paris(MONDAY + timedelta(days=1), 9)


def test_record_is_filed_against_the_days_shift(warming, rep):
    _, rca = warming
    shift = WorkingShift.objects.create(rep=rep, date=MONDAY, number=1, start_time=time(9), end_time=time(17))
    record = activity_record(rep_channel_activity_id=rca.id, at=paris(MONDAY, 10), message_id=77)
    assert (record.shift, record.shift_day, record.message_id) == (shift, MONDAY, 77)


# --- Availability and shift errors ------------------------------------------------------------

def test_availability_toggle_tells_the_managers(rep, manager, outsider, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # events are sequenced after commit
        services.rep_set_availability(rep=rep, available=False)
    rep.refresh_from_db()
    assert rep.is_available is False
    event = UserEvent.objects.get(user=manager.user, name="rep.presence")
    assert event.data == {"rep_id": rep.id, "online": False, "available": False}
    assert UserEvent.objects.filter(user=rep.user, name="rep.presence").exists()
    assert not UserEvent.objects.filter(user=outsider.user).exists()


def test_channel_availability_toggle_and_unknown_channel(rep, manager, channel, django_capture_on_commit_callbacks):
    rep_channel, _ = make_rep_channel(rep=rep, channel=channel)
    with django_capture_on_commit_callbacks(execute=True):  # events are sequenced after commit
        services.rep_set_availability(rep=rep, available=False, channel_id=channel.id)
    rep_channel.refresh_from_db()
    rep.refresh_from_db()
    assert (rep_channel.is_available, rep.is_available) == (False, True)
    assert UserEvent.objects.filter(user=manager.user, name="rep.presence").count() == 1
    with pytest.raises(ValueError, match="has no channel"):
        services.rep_set_availability(rep=rep, available=False, channel_id=channel.id + 999)


def test_shift_error_record_keeps_level_and_refuses_unknown_levels(rep):
    shift = WorkingShift.objects.create(rep=rep, date=MONDAY)
    error = services.shift_error_record(message="late login", code="late", level=1, shift=shift)
    assert (error.level, error.get_level_display()) == (1, "Warning")
    with pytest.raises(ValueError, match="level"):
        services.shift_error_record(message="x", code="y", level=5)
    assert ShiftError.objects.count() == 1


# --- Channel, rep-channel and shift services ---------------------------------------------------

def test_channel_create_refuses_a_name_taken_in_another_case(channel):
    with pytest.raises(ValidationError) as caught:
        services.channel_create(name="WHATSAPP sales", kind="sms", activities=["message"])
    assert "name" in caught.value.message_dict
    assert Channel.objects.count() == 1
    assert ChannelActivity.objects.filter(channel__kind="sms").count() == 0


def test_channel_update_merges_secrets_and_keeps_what_is_not_sent(db):
    channel = services.channel_create(name="Meta", kind="messenger", secrets={"app_secret": "a", "verify_token": "v"})
    services.channel_update(channel=channel, secrets={"access_token": "t", "verify_token": ""}, description="x")
    channel.refresh_from_db()
    assert channel.secrets == {"app_secret": "a", "access_token": "t"}
    assert channel.description == "x"


def test_channel_activities_in_use_are_not_removed(rep, channel):
    make_rep_channel(rep=rep, channel=channel, activity="like")
    with pytest.raises(ValidationError) as caught:
        services.channel_update(channel=channel, activities=["message"])
    assert "activities" in caught.value.message_dict
    services.channel_update(channel=channel, activities=["like", "comment"])
    # "message" is always one: every channel sends messages, each through its rep-channel's message activity.
    assert sorted(channel.activities.values_list("name", flat=True)) == ["comment", "like", "message"]


def test_rep_channel_create_refuses_an_activity_the_channel_lacks_and_saves_nothing(rep, channel):
    with pytest.raises(ValidationError) as caught:
        services.rep_channel_create(rep=rep, channel=channel, start_time=time(9), end_time=time(17),
                                    activities=[{"activity": "message"}, {"activity": "dance"}])
    assert "activities" in caught.value.message_dict
    assert not SalesRepChannel.objects.exists() and not SalesRepChannelActivity.objects.exists()


def test_rep_channel_update_keeps_password_when_blank_and_clears_on_none(rep, channel):
    rep_channel = services.rep_channel_create(rep=rep, channel=channel, start_time=time(9), end_time=time(17),
                                              password="first")
    services.rep_channel_update(rep_channel=rep_channel, password="", max_daily_capacity=50)
    rep_channel.refresh_from_db()
    assert (rep_channel.password, rep_channel.max_daily_capacity) == ("first", 50)
    services.rep_channel_update(rep_channel=rep_channel, password=None)
    rep_channel.refresh_from_db()
    assert rep_channel.password == ""


def test_shift_create_refuses_a_duplicate_naming_number(rep):
    services.shift_create(rep=rep, date=MONDAY, number=1, start_time=time(9), end_time=time(13))
    with pytest.raises(ValidationError) as caught:
        services.shift_create(rep=rep, date=MONDAY, number=1, start_time=time(14), end_time=time(18))
    assert "number" in caught.value.message_dict
    services.shift_create(rep=rep, date=MONDAY, number=2, start_time=time(22), end_time=time(2))
    assert WorkingShift.objects.filter(rep=rep).count() == 2


# --- Today ------------------------------------------------------------------------------------

def _today_for(rep, at) -> dict:
    (channel,) = rep_today(rep=rep, at=at)["channels"]
    (activity,) = [a for a in channel["activities"] if a["activity"] == "message"]  # the channel offers like too
    return activity


def test_today_shows_allowance_used_remaining_and_the_binding_limit(warming, rep):
    _, rca = warming
    for minute in range(3):
        activity_record(rep_channel_activity_id=rca.id, at=paris(MONDAY, 10, minute))
    at = paris(MONDAY, 10, 30)
    today = _today_for(rep, at)
    assert today["activity"] == "message"
    assert (today["allowance"], today["used"], today["remaining"], today["max_capacity"]) == (10, 3, 7, 100)
    assert (today["binding_limit"], today["blocked_by"], today["open_now"]) == ("warmup", None, True)
    assert today["next_opening"] == at
    assert today["window_closes"] == paris(MONDAY, 17)
    assert today["windows"] == [{"start": time(9), "end": time(17), "crosses_midnight": False}]
    assert today["shift_day"] == MONDAY


def test_today_when_exhausted_points_at_the_next_shift_day(warming, rep):
    _, rca = warming
    for minute in range(10):
        activity_record(rep_channel_activity_id=rca.id, at=paris(MONDAY, 10, minute))
    today = _today_for(rep, paris(MONDAY, 12))
    assert (today["remaining"], today["blocked_by"]) == (0, "warmup")
    assert today["next_opening"] == paris(MONDAY + timedelta(days=1), 9)


def test_today_only_looks_it_never_advances_the_warmup(warming, rep):
    _, rca = warming
    activity_record(rep_channel_activity_id=rca.id, at=paris(MONDAY, 10))
    tuesday = MONDAY + timedelta(days=1)
    today = _today_for(rep, paris(tuesday, 7))
    assert (today["allowance"], today["allowance_stored"], today["used"]) == (20, False, 0)
    assert (today["blocked_by"], today["next_opening"]) == ("outside_shift", paris(tuesday, 9))
    assert DailyAllowance.objects.count() == 1  # only Monday's
    _today_for(rep, paris(tuesday + timedelta(days=3), 10))
    assert DailyAllowance.objects.count() == 1


def test_today_reports_a_channel_rate_limit_when_it_binds(warming, rep, channel):
    _, rca = warming
    Channel.objects.filter(pk=channel.pk).update(rate_limit_per_hour=2, rate_limit_per_day=50)
    activity_record(rep_channel_activity_id=rca.id, at=paris(MONDAY, 10))
    activity_record(rep_channel_activity_id=rca.id, at=paris(MONDAY, 10, 20))
    at = paris(MONDAY, 10, 30)
    today = _today_for(rep, at)
    assert (today["binding_limit"], today["blocked_by"], today["remaining"]) == ("channel_hourly", "channel_hourly", 0)
    assert today["next_opening"] == paris(MONDAY, 11)
    limits = rep_today(rep=rep, at=at)["channels"][0]["channel_limits"]
    assert limits["channel_daily"] == {"limit": 50, "used": 2, "frees_at": None}


def test_today_for_an_unavailable_rep_and_a_night_shift(rep, channel):
    _, rca = make_rep_channel(rep=rep, channel=channel, timezone="Europe/Paris", start_time=time(22), end_time=time(6),
                              max_daily_capacity=5)
    # 01:00 Tuesday belongs to Monday's night shift.
    at = paris(MONDAY + timedelta(days=1), 1)
    today = _today_for(rep, at)
    assert (today["shift_day"], today["open_now"], today["binding_limit"], today["remaining"]) == (MONDAY, True, "activity_cap", 5)
    assert today["windows"][0]["crosses_midnight"] is True
    services.rep_set_availability(rep=rep, available=False)
    today = _today_for(rep, at)
    assert (today["blocked_by"], today["next_opening"]) == ("unavailable", None)


# --- Dated shifts -----------------------------------------------------------------------------

def _soon(days: int = 3) -> date:
    # Dated shifts are loaded around the real now, so these tests live a few days ahead of it.
    return datetime.now(PARIS).date() + timedelta(days=days)


def _refused(rep_channel: SalesRepChannel, rca: SalesRepChannelActivity, at: datetime) -> CapacityRefused:
    with pytest.raises(CapacityRefused) as caught:
        _check(rep_channel.id, rca, at)
    return caught.value


def test_a_split_shift_on_a_date_replaces_the_window_that_day_only(warming, rep):
    rep_channel, rca = warming  # 09:00–17:00 Paris every day
    day, plain = _soon(), _soon(4)
    services.shift_create(rep=rep, date=day, number=1, start_time=time(9), end_time=time(12))
    services.shift_create(rep=rep, date=day, number=2, start_time=time(14), end_time=time(18))

    refused = _refused(rep_channel, rca, paris(day, 13))
    assert refused.code == "outside_shift"
    assert refused.reason == f"outside shift until {day:%Y-%m-%d} 14:00 Europe/Paris"
    assert refused.until == paris(day, 14)
    assert _check(rep_channel.id, rca, paris(day, 15)) == (day, 10)
    assert _check(rep_channel.id, rca, paris(day, 17, 30)) == (day, 10)  # past the daily 17:00

    # The next date has no shifts: the rep-channel's 09:00–17:00 applies, not the split.
    assert _check(rep_channel.id, rca, paris(plain, 13))[0] == plain
    refused = _refused(rep_channel, rca, paris(plain, 17, 30))
    assert refused.until == paris(plain + timedelta(days=1), 9)


def test_a_single_dated_shift_counts_and_a_night_shift_belongs_to_its_start(warming, rep):
    rep_channel, rca = warming
    day = _soon()
    services.shift_create(rep=rep, date=day, number=1, start_time=time(11), end_time=time(15))
    services.shift_create(rep=rep, date=day + timedelta(days=1), number=1, start_time=time(22), end_time=time(2))
    assert _refused(rep_channel, rca, paris(day, 10)).until == paris(day, 11)
    assert _check(rep_channel.id, rca, paris(day, 14)) == (day, 10)
    night = day + timedelta(days=1)
    assert _refused(rep_channel, rca, paris(night, 10)).until == paris(night, 22)
    assert _check(rep_channel.id, rca, paris(night + timedelta(days=1), 1))[0] == night


def test_an_activity_with_its_own_hours_works_them_inside_dated_shifts_and_not_on_days_off(warming, rep):
    """DESIGN: the activity's hours narrow the rep's shifts — a dated 09:00–12:00 shift and an
    08:00–10:00 activity work 09:00–10:00 that day; a day with no dated shift keeps the activity's hours."""
    rep_channel, rca = warming
    SalesRepChannelActivity.objects.filter(pk=rca.pk).update(start_time=time(8), end_time=time(10))
    rca.refresh_from_db()
    day = _soon()
    services.shift_create(rep=rep, date=day, number=1, start_time=time(9), end_time=time(12))
    services.shift_create(rep=rep, date=day, number=2, start_time=time(14), end_time=time(18))
    services.shift_create(rep=rep, date=day + timedelta(days=1), is_day_off=True)
    assert _check(rep_channel.id, rca, paris(day, 9, 30)) == (day, 10)
    assert _refused(rep_channel, rca, paris(day, 8, 30)).until == paris(day, 9)  # the shift is not open yet
    assert _refused(rep_channel, rca, paris(day, 15)).until == paris(day + timedelta(days=2), 8)


def test_schedule_for_loads_dated_shifts_near_now_and_every_day_off(rep, channel):
    rep_channel, rca = make_rep_channel(rep=rep, channel=channel, timezone="Europe/Paris")
    near, far, past = _soon(), _soon(500), _soon(-30)
    for day in (near, far, past):
        WorkingShift.objects.create(rep=rep, date=day, start_time=time(10), end_time=time(11))
    WorkingShift.objects.create(rep=rep, date=near, number=2)  # no hours: not a window
    WorkingShift.objects.create(rep=rep, date=far + timedelta(days=1), is_day_off=True)
    schedule = selectors.schedule_for(rep_channel, rca)
    assert dict(schedule.overrides) == {near: (rules.Window(time(10), time(11)),)}
    assert schedule.windows == (rules.Window(time(8), time(20)),)
    assert schedule.days_off == {far + timedelta(days=1)}
    around = paris(far, 12)
    assert set(dict(selectors.schedule_for(rep_channel, rca, around=around).overrides)) == {far}
