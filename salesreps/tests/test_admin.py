"""The Django admin: every model has its pages, secrets are write-only (blank keeps them) and no
page ever shows a stored secret."""
from __future__ import annotations

from datetime import date, time

import pytest
from django.db import connection
from django.test import Client

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
    WorkingShift,
)
from salesreps.tests.conftest import make_rep_channel

SECRET = "plain-app-secret-4711"
PASSWORD = "plain-rep-password-0815"


@pytest.fixture
def admin_client(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.fixture
def secret_channel(db) -> Channel:
    channel = Channel.objects.create(name="Meta", kind="messenger", secrets={"app_secret": SECRET, "verify_token": "vt-9"})
    ChannelActivity.objects.create(channel=channel, name="message")
    return channel


def _channel_post(channel: Channel | None, **overrides) -> dict:
    activities = list(channel.activities.all()) if channel else []
    data = {
        "name": channel.name if channel else "New", "kind": channel.kind if channel else "sms", "is_active": "on",
        "description": "", "routing_key": "", "internal_url": "", "external_url": "", "config": "{}",
        "rate_limit_per_hour": "", "rate_limit_per_day": "", "cost_per_message": "0",
        "activities-TOTAL_FORMS": str(len(activities)), "activities-INITIAL_FORMS": str(len(activities)),
        "activities-MIN_NUM_FORMS": "0", "activities-MAX_NUM_FORMS": "1000",
    }
    for i, activity in enumerate(activities):
        data.update({f"activities-{i}-id": str(activity.id), f"activities-{i}-channel": str(channel.id),
                     f"activities-{i}-name": activity.name})
    data.update(overrides)
    return data


MODELS = [Channel, ChannelActivity, Team, SalesRep, SalesRepChannel, SalesRepChannelActivity, WorkingShift,
          ActivityRecord, DailyAllowance, ShiftError]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_model_has_admin_pages(admin_client, model, rep, secret_channel):
    rep_channel, rca = make_rep_channel(rep=rep, channel=secret_channel, password=PASSWORD)
    shift = WorkingShift.objects.create(rep=rep, date=date(2025, 3, 3))
    ActivityRecord.objects.create(rep_channel_activity=rca, shift=shift, shift_day=date(2025, 3, 3),
                                  performed_at="2025-03-03T10:00Z")
    DailyAllowance.objects.create(rep_channel=rep_channel, day=date(2025, 3, 3), allowance=10)
    ShiftError.objects.create(shift=shift, rep_channel=rep_channel, message="late", code="late", level=1)
    base = f"/admin/salesreps/{model._meta.model_name}/"
    listing = admin_client.get(base)
    assert listing.status_code == 200
    assert admin_client.get(f"{base}?q=a").status_code == 200
    detail = admin_client.get(f"{base}{model.objects.first().pk}/change/")
    assert detail.status_code == 200
    for page in (listing, detail):
        assert SECRET.encode() not in page.content and PASSWORD.encode() not in page.content


def test_channel_pages_show_which_secrets_are_set_never_their_values(admin_client, secret_channel):
    listing = admin_client.get("/admin/salesreps/channel/")
    detail = admin_client.get(f"/admin/salesreps/channel/{secret_channel.id}/change/")
    for page in (listing, detail):
        assert SECRET.encode() not in page.content and b"vt-9" not in page.content
    assert b"app_secret, verify_token" in listing.content
    html = detail.content.decode()
    assert 'type="password" name="secret_app_secret"' in html
    assert 'name="secrets"' not in html


def test_channel_form_blank_keeps_new_value_replaces_and_tick_removes(admin_client, secret_channel):
    url = f"/admin/salesreps/channel/{secret_channel.id}/change/"
    response = admin_client.post(url, _channel_post(secret_channel, description="kept"))
    assert response.status_code == 302, response.content[:2000]
    secret_channel.refresh_from_db()
    assert secret_channel.secrets == {"app_secret": SECRET, "verify_token": "vt-9"}
    assert secret_channel.description == "kept"

    response = admin_client.post(url, _channel_post(secret_channel, secret_access_token="tok-1", clear_secrets=["verify_token"]))
    assert response.status_code == 302
    secret_channel.refresh_from_db()
    assert secret_channel.secrets == {"app_secret": SECRET, "access_token": "tok-1"}


def test_channel_added_in_admin_stores_its_secret_encrypted(admin_client, secret_channel):
    response = admin_client.post("/admin/salesreps/channel/add/", _channel_post(None, name="Twilio", secret_auth_token=SECRET))
    assert response.status_code == 302, response.content[:2000]
    channel = Channel.objects.get(name="Twilio")
    assert channel.secrets == {"auth_token": SECRET}
    with connection.cursor() as cursor:
        cursor.execute("SELECT secrets FROM salesreps_channel WHERE id = %s", [channel.id])
        assert SECRET not in cursor.fetchone()[0]


def test_admin_refuses_a_channel_name_in_another_case_without_echoing_the_secret(admin_client, secret_channel):
    response = admin_client.post("/admin/salesreps/channel/add/",
                                 _channel_post(None, name="META", secret_app_secret="typed-secret-xyz"))
    assert response.status_code == 200
    assert "name" in response.context["adminform"].form.errors
    assert b"typed-secret-xyz" not in response.content
    assert Channel.objects.count() == 1


def _rep_channel_post(rep_channel: SalesRepChannel, **overrides) -> dict:
    data = {
        "rep": str(rep_channel.rep_id), "channel": str(rep_channel.channel_id), "username": rep_channel.username,
        "is_available": "on", "sandbox": "on", "start_time": "08:00", "end_time": "20:00", "timezone": "UTC",
        "max_daily_capacity": "100", "warmup_start": "", "warmup_step": "0", "new_password": "",
        "activities-TOTAL_FORMS": "0", "activities-INITIAL_FORMS": "0", "activities-MIN_NUM_FORMS": "0",
        "activities-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return data


def test_rep_channel_password_is_write_only(admin_client, rep, secret_channel):
    rep_channel, _ = make_rep_channel(rep=rep, channel=secret_channel, activity=None, username="riley", password=PASSWORD)
    url = f"/admin/salesreps/salesrepchannel/{rep_channel.id}/change/"
    for page in (admin_client.get(url), admin_client.get("/admin/salesreps/salesrepchannel/"),
                 admin_client.get(f"/admin/salesreps/salesrep/{rep.id}/change/")):
        assert page.status_code == 200
        assert PASSWORD.encode() not in page.content
    response = admin_client.post(url, _rep_channel_post(rep_channel, max_daily_capacity="50"))
    assert response.status_code == 302, response.content[:3000]
    rep_channel.refresh_from_db()
    assert (rep_channel.password, rep_channel.max_daily_capacity) == (PASSWORD, 50)

    admin_client.post(url, _rep_channel_post(rep_channel, new_password="second-pass"))
    rep_channel.refresh_from_db()
    assert rep_channel.password == "second-pass"
    admin_client.post(url, _rep_channel_post(rep_channel, clear_password="on"))
    rep_channel.refresh_from_db()
    assert rep_channel.password == ""


def test_rep_channel_admin_refuses_an_empty_window_and_saves_nothing(admin_client, rep, secret_channel):
    rep_channel, _ = make_rep_channel(rep=rep, channel=secret_channel, activity=None)
    response = admin_client.post(f"/admin/salesreps/salesrepchannel/{rep_channel.id}/change/",
                                 _rep_channel_post(rep_channel, start_time="09:00", end_time="09:00", timezone="Mars/Base"))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "end_time" in errors and "timezone" in errors
    rep_channel.refresh_from_db()
    assert (rep_channel.start_time, rep_channel.timezone) == (time(8), "UTC")


def test_availability_changed_in_admin_tells_the_managers(admin_client, rep, manager, django_capture_on_commit_callbacks):
    from core.models import UserEvent

    data = {
        "user": str(rep.user_id), "full_name": rep.full_name, "phone": "", "country": "", "city": "",
        "team": str(rep.team_id), "role": "rep", "timezone": "UTC",  # is_available unticked
        **{f"{prefix}-{k}": v for prefix in ("rep_channels", "shifts", "weekly_windows", "time_off")
           for k, v in {"TOTAL_FORMS": "0", "INITIAL_FORMS": "0", "MIN_NUM_FORMS": "0", "MAX_NUM_FORMS": "1000"}.items()},
    }
    with django_capture_on_commit_callbacks(execute=True):  # events are sequenced after commit
        response = admin_client.post(f"/admin/salesreps/salesrep/{rep.id}/change/", data)
    assert response.status_code == 302, response.content[:3000]
    rep.refresh_from_db()
    assert rep.is_available is False
    event = UserEvent.objects.get(user=manager.user, name="rep.presence")
    assert event.data["available"] is False


def test_an_activity_with_ledger_rows_cannot_be_deleted_from_the_inline(admin_client, rep, secret_channel):
    _, rca = make_rep_channel(rep=rep, channel=secret_channel)
    ActivityRecord.objects.create(rep_channel_activity=rca, shift_day=date(2025, 3, 3), performed_at="2025-03-03T10:00Z")
    response = admin_client.post(f"/admin/salesreps/channel/{secret_channel.id}/change/",
                                 _channel_post(secret_channel, **{"activities-0-DELETE": "on"}))
    assert response.status_code == 200
    assert b"has recorded activity" in response.content
    assert ActivityRecord.objects.count() == 1 and secret_channel.activities.count() == 1
