"""The REST API: who sees which reps, secrets never echoed, bad input answered 400 naming the field
with nothing saved, and availability toggles that reach the managers."""
from __future__ import annotations

from datetime import time

import pytest
from rest_framework.test import APIClient

from core.models import UserEvent
from salesreps.models import Channel, ChannelActivity, SalesRepChannel, SalesRepChannelActivity, WorkingShift
from salesreps.tests.conftest import make_rep_channel

SECRET = "plain-app-secret-4711"
PASSWORD = "plain-rep-password-0815"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _counts() -> tuple[int, ...]:
    return (Channel.objects.count(), ChannelActivity.objects.count(), SalesRepChannel.objects.count(),
            SalesRepChannelActivity.objects.count(), WorkingShift.objects.count())


# --- Channels ---------------------------------------------------------------------------------

def test_admin_creates_a_channel_and_its_secrets_are_never_echoed(admin_user, rep):
    response = client_for(admin_user).post("/api/channels/", {
        "name": "Meta Sales", "kind": "messenger", "routing_key": "200300400", "config": {"page_id": "200300400"},
        "secrets": {"app_secret": SECRET, "verify_token": "verify-me-0042"}, "activities": ["message", "comment"],
        "rate_limit_per_hour": 100,
    }, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert "secrets" not in body
    assert body["secret_fields_set"] == ["app_secret", "verify_token"]
    assert body["activities"] == ["comment", "message"]
    assert SECRET.encode() not in response.content and b"verify-me-0042" not in response.content
    channel = Channel.objects.get(pk=body["id"])
    assert channel.secrets == {"app_secret": SECRET, "verify_token": "verify-me-0042"}

    for user in (admin_user, rep.user):
        listing = client_for(user).get("/api/channels/")
        detail = client_for(user).get(f"/api/channels/{channel.id}/")
        assert listing.status_code == detail.status_code == 200
        assert SECRET.encode() not in listing.content + detail.content
        assert "secrets" not in detail.json()


def test_admin_patch_merges_secrets_and_keeps_the_rest(admin_user):
    channel = Channel.objects.create(name="SMS", kind="sms", secrets={"auth_token": SECRET, "verify_token": "v"})
    response = client_for(admin_user).patch(f"/api/channels/{channel.id}/", {
        "secrets": {"signing_key": "new-key", "verify_token": None}, "description": "US numbers",
    }, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["secret_fields_set"] == ["auth_token", "signing_key"]
    channel.refresh_from_db()
    assert channel.secrets == {"auth_token": SECRET, "signing_key": "new-key"}
    assert channel.description == "US numbers"


def test_non_admins_read_channels_but_cannot_write_them(rep, manager, channel):
    before = _counts()
    for user in (rep.user, manager.user):
        client = client_for(user)
        assert client.post("/api/channels/", {"name": "X", "kind": "sms"}, format="json").status_code == 403
        assert client.patch(f"/api/channels/{channel.id}/", {"name": "Y"}, format="json").status_code == 403
    assert _counts() == before
    channel.refresh_from_db()
    assert channel.name == "WhatsApp Sales"


def test_duplicate_channel_name_in_another_case_is_400_naming_name(admin_user, channel):
    before = _counts()
    response = client_for(admin_user).post("/api/channels/", {"name": "whatsapp SALES", "kind": "sms",
                                                              "activities": ["message"]}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()
    assert _counts() == before

    other = Channel.objects.create(name="Email", kind="email")
    response = client_for(admin_user).patch(f"/api/channels/{other.id}/", {"name": "WHATSAPP sales"}, format="json")
    assert response.status_code == 400 and "name" in response.json()
    other.refresh_from_db()
    assert other.name == "Email"


def test_anonymous_gets_nothing(channel):
    assert APIClient().get("/api/channels/").status_code in (401, 403)
    assert APIClient().get("/api/reps/").status_code in (401, 403)


# --- Reps and scope ---------------------------------------------------------------------------

def _ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {r["id"] for r in response.json()}


def test_rep_list_scope_per_role(rep, teammate, manager, outsider, admin_user, django_user_model):
    assert _ids(client_for(rep.user).get("/api/reps/")) == {rep.id}
    assert _ids(client_for(manager.user).get("/api/reps/")) == {rep.id, teammate.id, manager.id}
    assert _ids(client_for(admin_user).get("/api/reps/")) == {rep.id, teammate.id, manager.id, outsider.id}
    nobody = django_user_model.objects.create_user("nobody")
    assert _ids(client_for(nobody).get("/api/reps/")) == set()


def test_rep_detail_outside_scope_is_404(rep, teammate, manager, outsider):
    assert client_for(rep.user).get(f"/api/reps/{teammate.id}/").status_code == 404
    assert client_for(manager.user).get(f"/api/reps/{outsider.id}/").status_code == 404
    assert client_for(manager.user).get(f"/api/reps/{rep.id}/").status_code == 200


def test_rep_channels_follow_the_same_scope(rep, teammate, manager, outsider, admin_user, channel):
    make_rep_channel(rep=rep, channel=channel, password=PASSWORD)
    make_rep_channel(rep=outsider, channel=channel)
    own = client_for(rep.user).get(f"/api/reps/{rep.id}/channels/")
    assert own.status_code == 200
    (row,) = own.json()
    assert row["channel"] == channel.id and row["password_set"] is True and "password" not in row
    assert PASSWORD.encode() not in own.content
    assert client_for(rep.user).get(f"/api/reps/{teammate.id}/channels/").status_code == 404
    assert client_for(manager.user).get(f"/api/reps/{rep.id}/channels/").status_code == 200
    assert client_for(manager.user).get(f"/api/reps/{outsider.id}/channels/").status_code == 404
    assert client_for(admin_user).get(f"/api/reps/{outsider.id}/channels/").status_code == 200
    assert client_for(rep.user).get(f"/api/reps/{rep.id + 999}/channels/").status_code == 404


def test_a_rep_may_read_but_not_change_their_channels(rep, channel):
    rep_channel, _ = make_rep_channel(rep=rep, channel=channel)
    client = client_for(rep.user)
    assert client.patch(f"/api/reps/{rep.id}/channels/{rep_channel.id}/", {"max_daily_capacity": 999},
                        format="json").status_code == 403
    rep_channel.refresh_from_db()
    assert rep_channel.max_daily_capacity == 100


def test_manager_creates_a_rep_channel_with_activities_and_a_hidden_password(manager, rep, channel):
    response = client_for(manager.user).post(f"/api/reps/{rep.id}/channels/", {
        "channel": channel.id, "username": "riley.wa", "password": PASSWORD, "start_time": "22:00", "end_time": "06:00",
        "timezone": "Europe/Paris", "max_daily_capacity": 100, "warmup_start": 10, "warmup_step": 10,
        "activities": [{"activity": "message"}, {"activity": "like", "start_time": "12:00", "end_time": "13:00",
                                                 "max_capacity": 20}],
    }, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert PASSWORD.encode() not in response.content and body["password_set"] is True
    assert sorted(a["activity"] for a in body["activities"]) == ["like", "message"]
    rep_channel = SalesRepChannel.objects.get(pk=body["id"])
    assert (rep_channel.password, rep_channel.timezone, rep_channel.warmup_start) == (PASSWORD, "Europe/Paris", 10)
    like = rep_channel.activities.get(activity__name="like")
    assert (like.start_time, like.end_time, like.max_capacity) == (time(12), time(13), 20)

    again = client_for(manager.user).post(f"/api/reps/{rep.id}/channels/", {
        "channel": channel.id, "start_time": "09:00", "end_time": "17:00"}, format="json")
    assert again.status_code == 400 and "channel" in again.json()


VALID = {"start_time": "09:00", "end_time": "17:00", "timezone": "Europe/Paris", "max_daily_capacity": 100,
         "warmup_start": 10, "warmup_step": 10, "activities": [{"activity": "message"}]}


@pytest.mark.parametrize("change, field", [
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"timezone": "Europe/Pariss"}, "timezone"),
    ({"end_time": "09:00"}, "end_time"),
    ({"max_daily_capacity": -1}, "max_daily_capacity"),
    ({"warmup_start": -5}, "warmup_start"),
    ({"warmup_step": -10}, "warmup_step"),
    ({"activities": [{"activity": "message"}, {"activity": "dance"}]}, "activities"),
    ({"activities": [{"activity": "message", "max_capacity": -1}]}, "activities"),
    ({"activities": [{"activity": "message", "start_time": "10:00", "end_time": "10:00"}]}, "activities"),
    ({"channel": 999999}, "channel"),
])
def test_bad_rep_channel_input_is_400_naming_the_field_and_saves_nothing(admin_user, rep, channel, change, field):
    before = _counts()
    response = client_for(admin_user).post(f"/api/reps/{rep.id}/channels/", {"channel": channel.id, **VALID, **change},
                                           format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert _counts() == before


@pytest.mark.parametrize("change, field", [
    ({"timezone": "Nowhere/Land"}, "timezone"),
    ({"end_time": "08:00"}, "end_time"),
    ({"max_daily_capacity": -3}, "max_daily_capacity"),
    ({"warmup_step": -1}, "warmup_step"),
    ({"activities": [{"activity": "dance"}]}, "activities"),
])
def test_bad_rep_channel_update_is_400_and_changes_nothing(admin_user, rep, channel, change, field):
    rep_channel, _ = make_rep_channel(rep=rep, channel=channel, start_time=time(8), end_time=time(20))
    before = _counts()
    response = client_for(admin_user).patch(f"/api/reps/{rep.id}/channels/{rep_channel.id}/",
                                            {"max_daily_capacity": 7, **change}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert _counts() == before
    rep_channel.refresh_from_db()
    assert (rep_channel.timezone, rep_channel.end_time, rep_channel.max_daily_capacity) == ("UTC", time(20), 100)


# --- Shifts -----------------------------------------------------------------------------------

def test_duplicate_shift_is_400_naming_number_and_saves_nothing(manager, rep):
    client = client_for(manager.user)
    first = client.post(f"/api/reps/{rep.id}/shifts/", {"date": "2025-03-03", "number": 1, "start_time": "09:00",
                                                       "end_time": "13:00"}, format="json")
    assert first.status_code == 201, first.content
    split = client.post(f"/api/reps/{rep.id}/shifts/", {"date": "2025-03-03", "number": 2, "start_time": "22:00",
                                                       "end_time": "02:00"}, format="json")
    assert split.status_code == 201, split.content
    before = _counts()
    duplicate = client.post(f"/api/reps/{rep.id}/shifts/", {"date": "2025-03-03", "number": 1, "start_time": "14:00",
                                                           "end_time": "18:00"}, format="json")
    assert duplicate.status_code == 400 and "number" in duplicate.json()
    empty = client.post(f"/api/reps/{rep.id}/shifts/", {"date": "2025-03-04", "start_time": "09:00", "end_time": "09:00"},
                        format="json")
    assert empty.status_code == 400 and "end_time" in empty.json()
    assert _counts() == before
    assert client_for(rep.user).get(f"/api/reps/{rep.id}/shifts/").status_code == 200
    assert client_for(rep.user).post(f"/api/reps/{rep.id}/shifts/", {"date": "2025-03-05"}, format="json").status_code == 403


def test_a_manager_deletes_a_date_override_and_the_week_applies_that_day_again(manager, rep, outsider, channel):
    from datetime import date, datetime, timedelta
    from zoneinfo import ZoneInfo

    from salesreps.models import ActivityRecord

    client = client_for(manager.user)
    today = datetime.now(ZoneInfo(rep.timezone or "UTC")).date()
    off = client.post(f"/api/reps/{rep.id}/shifts/", {"date": today.isoformat(), "is_day_off": True}, format="json").json()
    assert client.get(f"/api/reps/{rep.id}/schedule/").json()["today"]["day_off"] is True
    assert client_for(rep.user).delete(f"/api/reps/{rep.id}/shifts/{off['id']}/").status_code == 403  # a rep reads, never edits
    assert client_for(outsider.user).delete(f"/api/reps/{rep.id}/shifts/{off['id']}/").status_code == 404
    assert client.delete(f"/api/reps/{rep.id}/shifts/{off['id']}/").status_code == 204
    assert not WorkingShift.objects.filter(pk=off["id"]).exists()
    assert client.get(f"/api/reps/{rep.id}/schedule/").json()["today"]["day_off"] is False
    assert client.delete(f"/api/reps/{rep.id}/shifts/{off['id']}/").status_code == 404
    # A shift the ledger hangs on stays, no longer planned: it stops overriding the week, nothing recorded is lost.
    later = date.today() + timedelta(days=3)
    worked = client.post(f"/api/reps/{rep.id}/shifts/", {"date": later.isoformat(), "start_time": "10:00", "end_time": "12:00"},
                         format="json").json()
    _, activity = make_rep_channel(rep=rep, channel=channel)
    record = ActivityRecord.objects.create(rep_channel_activity=activity, shift_id=worked["id"], shift_day=later,
                                           performed_at=datetime.now(ZoneInfo("UTC")))
    kept = client.delete(f"/api/reps/{rep.id}/shifts/{worked['id']}/")
    assert kept.status_code == 200 and kept.json()["planned"] is False
    assert ActivityRecord.objects.get(pk=record.pk).shift_id == worked["id"]


# --- Me ---------------------------------------------------------------------------------------

def test_me_shows_profile_channels_and_today(rep, channel):
    make_rep_channel(rep=rep, channel=channel, password=PASSWORD, max_daily_capacity=40)
    response = client_for(rep.user).get("/api/reps/me/")
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["username"], body["is_available"]) == (rep.id, "riley", True)
    assert [c["channel_name"] for c in body["channels"]] == ["WhatsApp Sales"]
    (today,) = body["today"]["channels"]
    like, activity = today["activities"]  # every activity the channel offers, by name; like has no row of its own yet
    assert activity["activity"] == "message" and activity["max_capacity"] == 40
    assert (like["activity"], like["max_capacity"], like["used"], like["rep_channel_activity_id"]) == ("like", 40, 0, None)
    assert {"allowance", "used", "remaining", "binding_limit", "next_opening", "windows"} <= set(activity)
    assert PASSWORD.encode() not in response.content


def test_me_for_a_user_without_a_rep_is_404(admin_user):
    assert client_for(admin_user).get("/api/reps/me/").status_code == 404


def test_patch_me_toggles_availability_and_tells_the_manager(rep, manager, outsider, channel, django_capture_on_commit_callbacks):
    rep_channel, _ = make_rep_channel(rep=rep, channel=channel)
    client = client_for(rep.user)
    with django_capture_on_commit_callbacks(execute=True):  # events are sequenced after commit
        response = client.patch("/api/reps/me/", {"is_available": False}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["is_available"] is False
    rep.refresh_from_db()
    assert rep.is_available is False
    (event,) = UserEvent.objects.filter(user=manager.user, name="rep.presence")
    assert event.data["rep_id"] == rep.id and event.data["available"] is False
    assert not UserEvent.objects.filter(user=outsider.user).exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.patch("/api/reps/me/", {"is_available": False, "channel_id": channel.id}, format="json")
    assert response.status_code == 200
    rep_channel.refresh_from_db()
    assert rep_channel.is_available is False
    assert UserEvent.objects.filter(user=manager.user, name="rep.presence").count() == 2


def test_patch_me_with_bad_input_is_400_naming_the_field(rep, manager, channel):
    client = client_for(rep.user)
    unknown = client.patch("/api/reps/me/", {"is_available": False, "channel_id": channel.id}, format="json")
    assert unknown.status_code == 400 and "channel_id" in unknown.json()
    missing = client.patch("/api/reps/me/", {}, format="json")
    assert missing.status_code == 400 and "is_available" in missing.json()
    rep.refresh_from_db()
    assert rep.is_available is True
    assert not UserEvent.objects.filter(name="rep.presence").exists()


def test_today_of_another_rep_follows_scope(rep, manager, outsider, channel):
    make_rep_channel(rep=rep, channel=channel)
    assert client_for(manager.user).get(f"/api/reps/{rep.id}/today/").status_code == 200
    assert client_for(manager.user).get(f"/api/reps/{outsider.id}/today/").status_code == 404


def test_schema_generates(admin_user):
    assert client_for(admin_user).get("/api/schema/").status_code == 200


def test_patch_activities_updates_by_name_and_requires_the_name(admin_user, rep, channel):
    rep_channel, rca = make_rep_channel(rep=rep, channel=channel)
    url = f"/api/reps/{rep.id}/channels/{rep_channel.id}/"
    client = client_for(admin_user)
    response = client.patch(url, {"activities": [{"activity": "message", "max_capacity": 0}, {"activity": "like"}]},
                            format="json")
    assert response.status_code == 200, response.content
    rca.refresh_from_db()
    assert rca.max_capacity == 0
    assert sorted(rep_channel.activities.values_list("activity__name", flat=True)) == ["like", "message"]
    nameless = client.patch(url, {"activities": [{"max_capacity": 3}]}, format="json")
    assert nameless.status_code == 400 and "activities" in nameless.json()
