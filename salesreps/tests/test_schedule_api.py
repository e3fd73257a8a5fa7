"""GET/PUT /api/reps/<id>/schedule/: one document per rep (time zone, week, time off, the team's
holiday calendar) with what it means today; the same scope as the other rep endpoints; bad input
answered 400 naming the field and the value with nothing saved; the ledger never touched; the
Django admin through the same checks; schedules read in a fixed number of queries."""
from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from salesreps import rules, selectors, services
from salesreps.models import (
    ActivityRecord,
    DailyAllowance,
    SalesRep,
    SalesRepChannel,
    SalesRepChannelActivity,
    Team,
    TimeOff,
    WeeklyWindow,
    WorkingShift,
)
from salesreps.tests.conftest import make_channel, make_rep, make_rep_channel

LISBON = ZoneInfo("Europe/Lisbon")
SPLIT = [("09:00:00", "13:00:00"), ("14:00:00", "18:00:00")]
WEEK = [{"weekday": d, "start": s, "end": e, "activity": ""} for d in range(5) for s, e in SPLIT] + [
    {"weekday": 3, "start": "22:00:00", "end": "06:00:00", "activity": ""}]
TIME_OFF = [{"first_day": "2031-08-01", "last_day": "2031-08-15", "reason": "summer"}]
DOCUMENT = {"timezone": "Europe/Lisbon", "week": WEEK, "time_off": TIME_OFF}


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def url(rep) -> str:
    return f"/api/reps/{rep.id}/schedule/"


def put(user, rep, body):
    return client_for(user).put(url(rep), body, format="json")


def lisbon(*args) -> datetime:
    return datetime(*args, tzinfo=LISBON)


def _stored(rep) -> tuple:
    rep = SalesRep.objects.get(pk=rep.pk)
    return (rep.timezone,
            sorted(WeeklyWindow.objects.filter(rep=rep).values_list("weekday", "start_time", "end_time", "activity")),
            sorted(TimeOff.objects.filter(rep=rep).values_list("first_day", "last_day", "reason")))


# --- The document ---------------------------------------------------------------------------------

def test_a_manager_replaces_the_schedule_and_the_rep_reads_it_back(manager, rep, channel):
    make_rep_channel(rep=rep, channel=channel, timezone="")
    response = put(manager.user, rep, DOCUMENT)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["timezone"], body["week"], body["time_off"], body["holiday_country"]) == (
        "Europe/Lisbon", sorted(WEEK, key=lambda w: (w["weekday"], w["start"])), TIME_OFF, "")
    assert _stored(rep)[0] == "Europe/Lisbon" and len(_stored(rep)[1]) == 11

    mine = client_for(rep.user).get(url(rep))
    assert mine.status_code == 200 and mine.json()["week"] == body["week"]
    today = mine.json()["today"]
    assert today["timezone"] == "Europe/Lisbon" and today["weekly"] is True
    weekday = date.fromisoformat(today["date"]).weekday()
    expected = [(w["start"], w["end"]) for w in sorted(WEEK, key=lambda w: w["start"]) if w["weekday"] == weekday]
    assert [(w["start"], w["end"]) for w in today["windows"]] == expected
    assert today["open_now"] is (today["window_closes"] is not None)
    if not today["open_now"]:
        assert today["next_opening_local"].endswith(" Europe/Lisbon")
        assert datetime.fromisoformat(today["next_opening"]) > datetime.now(UTC)
    [channel_today] = today["channels"]
    assert (channel_today["channel"], channel_today["timezone"]) == (channel.name, "Europe/Lisbon")  # the rep's zone

    again = put(manager.user, rep, {"timezone": "Europe/Lisbon", "week": WEEK[:2], "time_off": []})
    assert again.status_code == 200
    assert len(_stored(rep)[1]) == 2 and _stored(rep)[2] == []  # replaced, not merged


def test_what_the_schedule_means_on_a_pinned_saturday_and_on_a_team_holiday(manager, rep, channel, admin_user):
    make_rep_channel(rep=rep, channel=channel, timezone="")
    make_rep_channel(rep=rep, channel=make_channel(name="Mail", kind="email"), timezone="America/New_York")
    assert put(manager.user, rep, DOCUMENT).status_code == 200
    saturday = selectors.rep_schedule(rep=rep, at=lisbon(2026, 12, 5, 11))["today"]
    assert (saturday["date"], saturday["weekday"], saturday["windows"], saturday["open_now"]) == (
        date(2026, 12, 5), "Saturday", [], False)
    assert saturday["next_opening"] == lisbon(2026, 12, 7, 9)
    assert saturday["next_opening_local"] == "2026-12-07 09:00 Europe/Lisbon"
    mail = next(c for c in saturday["channels"] if c["channel"] == "Mail")
    assert (mail["timezone"], mail["next_opening"]) == ("America/New_York", datetime(2026, 12, 7, 9, tzinfo=ZoneInfo("America/New_York")))

    # The team opts into Portugal's holidays (admin only): Tuesday 8 December is off, Monday night waits.
    admin = Client()
    admin.force_login(admin_user)
    assert admin.post(f"/admin/salesreps/team/{rep.team_id}/change/", {"name": rep.team.name, "holiday_country": "PT"}).status_code == 302
    holiday = selectors.rep_schedule(rep=rep, at=lisbon(2026, 12, 8, 10))
    assert holiday["holiday_country"] == "PT"
    assert (holiday["today"]["day_off"], holiday["today"]["off_reason"]) == (True, "public holiday (PT): Immaculate Conception")
    assert holiday["today"]["next_opening"] == lisbon(2026, 12, 9, 9)
    assert client_for(rep.user).get(url(rep)).json()["holiday_country"] == "PT"


def test_time_off_and_a_planned_override_show_in_today(manager, rep, channel):
    make_rep_channel(rep=rep, channel=channel, timezone="")
    assert put(manager.user, rep, {**DOCUMENT, "time_off": [{"first_day": "2026-12-14", "last_day": "2026-12-16",
                                                             "reason": "training"}]}).status_code == 200
    off = selectors.rep_schedule(rep=rep, at=lisbon(2026, 12, 15, 10))["today"]
    assert (off["day_off"], off["off_reason"], off["next_opening"]) == (True, "time off: training", lisbon(2026, 12, 17, 9))
    services.shift_create(rep=rep, date=date(2026, 12, 12), start_time=time(10), end_time=time(12))  # an extra Saturday
    extra = selectors.rep_schedule(rep=rep, at=lisbon(2026, 12, 12, 11))["today"]
    assert (extra["open_now"], extra["windows"]) == (True, [{"start": time(10), "end": time(12), "crosses_midnight": False}])
    # A shift the dispatcher materialized (planned=False) is a record, never an override of the week.
    WorkingShift.objects.create(rep=rep, date=date(2026, 12, 10), number=1, start_time=time(20), end_time=time(21), planned=False)
    thursday = selectors.rep_schedule(rep=rep, at=lisbon(2026, 12, 10, 10))["today"]
    assert thursday["open_now"] is True and len(thursday["windows"]) == 3


# --- Scope ------------------------------------------------------------------------------------------

def test_schedule_scope_follows_the_other_rep_endpoints(rep, teammate, manager, outsider, admin_user, channel):
    make_rep_channel(rep=rep, channel=channel)
    before = _stored(rep)
    assert client_for(rep.user).get(url(rep)).status_code == 200
    assert client_for(teammate.user).get(url(rep)).status_code == 404
    assert client_for(outsider.user).get(url(rep)).status_code == 404
    assert client_for(manager.user).get(url(rep)).status_code == 200
    assert client_for(manager.user).get(url(outsider)).status_code == 404
    assert client_for(admin_user).get(url(outsider)).status_code == 200
    assert APIClient().get(url(rep)).status_code in (401, 403)

    assert put(rep.user, rep, DOCUMENT).status_code == 403  # a rep reads their own, never writes it
    assert put(teammate.user, rep, DOCUMENT).status_code == 404
    assert put(manager.user, outsider, DOCUMENT).status_code == 404
    assert _stored(rep) == before
    assert put(admin_user, outsider, DOCUMENT).status_code == 200


# --- Bad input ----------------------------------------------------------------------------------------

def _w(weekday, start, end, activity=""):
    return {"weekday": weekday, "start": start, "end": end, "activity": activity}


@pytest.mark.parametrize(("change", "field", "named"), [
    ({"week": [_w(1, "09:00", "13:00"), _w(1, "12:00", "14:00")]}, "week", "Tuesday 12:00–14:00 overlaps 09:00–13:00"),
    ({"week": [_w(3, "22:00", "06:00"), _w(3, "23:00", "23:30")]}, "week", "Thursday 23:00–23:30 overlaps 22:00–06:00"),
    ({"week": [_w(0, "09:00", "13:00", "like"), _w(0, "10:00", "11:00", "like")]}, "week", "(activity 'like')"),
    ({"week": [_w(0, "09:00", "09:00")]}, "week", "end 09:00 equals start 09:00"),
    ({"week": [_w(7, "09:00", "13:00")]}, "week", "weekday 7"),
    ({"week": [_w(0, "09:00", "24:00")]}, "week", "end"),
    ({"week": [_w(0, "09:00", "13:00", "dance")]}, "week", "activity 'dance'"),
    ({"week": [_w(0, "9 o'clock", "13:00")]}, "week", "start"),
    ({"timezone": "Mars/Olympus"}, "timezone", "Mars/Olympus"),
    ({"timezone": "Europe/Lisboa"}, "timezone", "Europe/Lisboa"),
    ({"time_off": [{"first_day": "2026-12-10", "last_day": "2026-12-01"}]}, "time_off",
     "last_day 2026-12-01 is before first_day 2026-12-10"),
    ({"time_off": [{"first_day": "2026-12-10"}]}, "time_off", "last_day"),
    ({"week": None}, "week", "week"),
])
def test_bad_schedule_is_400_naming_the_field_and_the_value_and_saves_nothing(manager, rep, channel, change, field, named):
    make_rep_channel(rep=rep, channel=channel)
    assert put(manager.user, rep, DOCUMENT).status_code == 200
    before = _stored(rep)
    response = put(manager.user, rep, {**DOCUMENT, **change})
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert named in json.dumps(response.json(), ensure_ascii=False)
    assert _stored(rep) == before


def test_every_problem_is_named_at_once(manager, rep, channel):
    make_rep_channel(rep=rep, channel=channel)
    response = put(manager.user, rep, {"timezone": "Nowhere/Town", "week": [_w(2, "10:00", "10:00")],
                                       "time_off": [{"first_day": "2026-12-02", "last_day": "2026-12-01"}]})
    assert response.status_code == 400
    assert set(response.json()) == {"timezone", "week", "time_off"}


def test_what_the_checks_allow(manager, rep, channel):
    make_rep_channel(rep=rep, channel=channel)  # the channel has "message" and "like"
    week = [_w(0, "09:00", "13:00"), _w(0, "13:00", "14:00"),  # touching is not overlapping
            _w(0, "09:00", "10:00", "like"),  # another activity scope
            _w(0, "22:00", "06:00"), _w(1, "05:00", "09:00")]  # Monday's night tail and Tuesday's early start
    response = put(manager.user, rep, {"timezone": "UTC", "week": week, "time_off": [
        {"first_day": "2026-12-24", "last_day": "2026-12-24"}]})
    assert response.status_code == 200, response.content
    assert len(_stored(rep)[1]) == 5


# --- The ledger is never touched ---------------------------------------------------------------------

def test_editing_the_schedule_keeps_the_days_ledger_and_shifts(manager, rep, channel):
    rep_channel, rca = make_rep_channel(rep=rep, channel=channel, timezone="Europe/Paris", start_time=time(9),
                                        end_time=time(17), warmup_start=10, warmup_step=10)
    monday = datetime(2025, 3, 3, 10, tzinfo=ZoneInfo("Europe/Paris"))
    services.shift_create(rep=rep, date=date(2025, 3, 4), is_day_off=True)
    for minute in range(2):
        services.activity_record(rep_channel_activity_id=rca.id, at=monday + timedelta(minutes=minute))

    def ledger():
        return (list(ActivityRecord.objects.order_by("id").values_list("id", "shift_id", "shift_day", "performed_at")),
                list(DailyAllowance.objects.order_by("id").values_list("id", "day", "allowance")),
                list(WorkingShift.objects.order_by("id").values_list("id", "date", "is_day_off", "planned")))

    before = ledger()
    assert put(manager.user, rep, {"timezone": "Europe/Paris", "week": [_w(0, "08:00", "12:00")], "time_off": [
        {"first_day": "2025-03-03", "last_day": "2025-03-07"}]}).status_code == 200
    assert put(manager.user, rep, {"timezone": "Europe/Paris", "week": [_w(0, "08:00", "12:00")], "time_off": []}).status_code == 200
    assert ledger() == before
    [today] = [a for c in selectors.rep_today(rep=rep, at=monday + timedelta(minutes=30))["channels"] for a in c["activities"]
               if a["activity"] == "message"]
    assert (today["used"], today["allowance"], today["remaining"]) == (2, 10, 8)
    assert today["windows"] == [{"start": time(8), "end": time(12), "crosses_midnight": False}]


# --- Rep-channel zones and activities ------------------------------------------------------------------

def test_a_rep_channel_zone_is_its_own_or_the_rep_s(manager, rep, channel):
    rep_channel, _ = make_rep_channel(rep=rep, channel=channel, timezone="")
    assert put(manager.user, rep, DOCUMENT).status_code == 200
    path = f"/api/reps/{rep.id}/channels/{rep_channel.id}/"
    assert client_for(manager.user).get(path).json()["zone"] == "Europe/Lisbon"
    response = client_for(manager.user).patch(path, {"timezone": "Asia/Tokyo"}, format="json")
    assert response.status_code == 200 and (response.json()["timezone"], response.json()["zone"]) == ("Asia/Tokyo", "Asia/Tokyo")
    assert client_for(manager.user).patch(path, {"timezone": ""}, format="json").json()["zone"] == "Europe/Lisbon"
    rep_channel.refresh_from_db()
    assert selectors.schedule_for(rep_channel, None).tz == "Europe/Lisbon"


def test_an_activity_with_windows_of_its_own_keeps_only_those(manager, rep, channel):
    rep_channel, message = make_rep_channel(rep=rep, channel=channel, timezone="")
    like = SalesRepChannelActivity.objects.create(rep_channel=rep_channel, activity=channel.activities.get(name="like"))
    week = [_w(d, "09:00", "18:00") for d in range(5)] + [_w(0, "10:00", "12:00", "like")]
    assert put(manager.user, rep, {"timezone": "Europe/Lisbon", "week": week, "time_off": []}).status_code == 200
    rep_channel = SalesRepChannel.objects.select_related("rep").get(pk=rep_channel.pk)
    at = lisbon(2026, 11, 16, 13)  # a Monday
    capacities = selectors.capacities_of([(rep_channel, message)], at=at)
    assert rules.is_open(schedule=capacities[rep_channel.id].schedule, at=at)
    like_schedule = selectors.schedule_for(rep_channel, like, around=at)
    assert not rules.is_open(schedule=like_schedule, at=at)
    assert rules.next_opening(schedule=like_schedule, at=at) == lisbon(2026, 11, 23, 10)  # next Monday, like's hours


# --- Fixed number of queries ---------------------------------------------------------------------------

def _queries_for(n: int) -> int:
    team = Team.objects.create(name=f"Team {n}", holiday_country="PT")
    channel = make_channel()
    for _ in range(n):
        rep = make_rep(team=team, timezone="Europe/Lisbon")
        make_rep_channel(rep=rep, channel=channel, timezone="")
        services.rep_schedule_set(rep=rep, week=[_w(0, time(9), time(13)), _w(0, time(9), time(10), "message")],
                                  time_off=[{"first_day": date(2026, 12, 1), "last_day": date(2026, 12, 3)}])
        services.shift_create(rep=rep, date=date(2026, 12, 5), start_time=time(10), end_time=time(12))
    pairs = [(rc, rc.activities.select_related("activity").first())
             for rc in SalesRepChannel.objects.filter(channel=channel).select_related("rep")]
    at = lisbon(2026, 11, 30, 9, 30)
    with CaptureQueriesContext(connection) as queries:
        capacities = selectors.capacities_of(pairs, at=at)
    assert all(rules.is_open(schedule=c.schedule, at=at) for c in capacities.values())  # the "message" rows
    assert all(date(2026, 12, 8) in c.schedule.days_off and date(2026, 12, 2) in c.schedule.days_off
               for c in capacities.values())
    return len(queries.captured_queries)


def test_capacities_of_reads_any_number_of_schedules_in_the_same_queries(db):
    assert _queries_for(2) == _queries_for(12)


# --- Django admin ------------------------------------------------------------------------------------

def _management(prefix: str, total: int = 0, initial: int = 0) -> dict:
    return {f"{prefix}-TOTAL_FORMS": str(total), f"{prefix}-INITIAL_FORMS": str(initial),
            f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"}


def _rep_post(rep: SalesRep, windows: list[tuple], time_off: list[tuple] = (), **fields) -> dict:
    data = {"user": str(rep.user_id), "full_name": rep.full_name, "phone": "", "country": "", "city": "",
            "team": str(rep.team_id), "role": rep.role, "is_available": "on", "timezone": "Europe/Lisbon",
            **_management("weekly_windows", len(windows)), **_management("time_off", len(time_off)),
            **_management("rep_channels"), **_management("shifts"), **fields}
    for n, (weekday, start, end, activity) in enumerate(windows):
        data.update({f"weekly_windows-{n}-weekday": str(weekday), f"weekly_windows-{n}-start_time": start,
                     f"weekly_windows-{n}-end_time": end, f"weekly_windows-{n}-activity": activity,
                     f"weekly_windows-{n}-rep": str(rep.id), f"weekly_windows-{n}-id": ""})
    for n, (first, last, reason) in enumerate(time_off):
        data.update({f"time_off-{n}-first_day": first, f"time_off-{n}-last_day": last, f"time_off-{n}-reason": reason,
                     f"time_off-{n}-rep": str(rep.id), f"time_off-{n}-id": ""})
    return data


@pytest.fixture
def admin_client(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def test_admin_edits_the_week_and_time_off_through_the_service_checks(admin_client, rep, channel):
    make_rep_channel(rep=rep, channel=channel)
    page = f"/admin/salesreps/salesrep/{rep.id}/change/"
    assert admin_client.get(page).status_code == 200
    bad = admin_client.post(page, _rep_post(rep, [(1, "09:00", "13:00", ""), (1, "12:00", "14:00", "")]))
    assert bad.status_code == 200
    assert "Tuesday 12:00–14:00 overlaps 09:00–13:00" in bad.content.decode()
    unknown = admin_client.post(page, _rep_post(rep, [(1, "09:00", "13:00", "dance")]))
    assert unknown.status_code == 200 and "activity &#x27;dance&#x27;" in unknown.content.decode()
    reversed_range = admin_client.post(page, _rep_post(rep, [], [("2026-12-10", "2026-12-01", "")]))
    assert reversed_range.status_code == 200 and "before first day" in reversed_range.content.decode()
    assert _stored(rep) == ("UTC", [], [])

    good = admin_client.post(page, _rep_post(rep, [(1, "09:00", "13:00", ""), (3, "22:00", "06:00", "")],
                                             [("2026-12-24", "2026-12-26", "Christmas")]))
    assert good.status_code == 302, good.content[:3000]
    assert _stored(rep) == ("Europe/Lisbon", [(1, time(9), time(13), ""), (3, time(22), time(6), "")],
                            [(date(2026, 12, 24), date(2026, 12, 26), "Christmas")])
    assert b"Europe/Lisbon" in admin_client.get("/admin/salesreps/salesrep/").content
    assert b"22:00" in admin_client.get(page).content


def test_admin_refuses_an_unknown_timezone_and_holiday_country(admin_client, rep):
    page = f"/admin/salesreps/salesrep/{rep.id}/change/"
    response = admin_client.post(page, _rep_post(rep, [], timezone="Mars/Olympus"))
    assert response.status_code == 200 and "Mars/Olympus" in response.content.decode()
    team = rep.team
    response = admin_client.post(f"/admin/salesreps/team/{team.id}/change/", {"name": team.name, "holiday_country": "XX"})
    assert response.status_code == 200 and "unknown country code &#x27;XX&#x27;" in response.content.decode()
    team.refresh_from_db()
    assert (team.holiday_country, SalesRep.objects.get(pk=rep.pk).timezone) == ("", "UTC")


def test_admin_adds_a_rep_with_a_week(admin_client, team, django_user_model):
    user = django_user_model.objects.create_user("newcomer")
    data = _rep_post(SalesRep(user=user, full_name="Newcomer", team=team, role="rep"), [(0, "09:00", "17:00", "")],
                     [("2026-12-24", "2026-12-24", "")])
    data = {k: v for k, v in data.items() if not k.endswith("-rep") and not k.endswith("-id")}
    assert admin_client.get("/admin/salesreps/salesrep/add/").status_code == 200
    response = admin_client.post("/admin/salesreps/salesrep/add/", data)
    assert response.status_code == 302, response.content[:3000]
    rep = SalesRep.objects.get(user=user)
    assert _stored(rep) == ("Europe/Lisbon", [(0, time(9), time(17), "")], [(date(2026, 12, 24), date(2026, 12, 24), "")])
