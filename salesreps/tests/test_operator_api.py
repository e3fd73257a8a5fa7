"""The operator's people API (admins): reps with their logins, roles, teams, sign-in on and off, and a
channel's reps with their sandbox switch."""
from __future__ import annotations

import json

import pytest
from django.test import Client

from inbox.tests.factories import make_channel, make_rep, make_rep_channel, make_team
from salesreps.models import SalesRep, SalesRepChannel, Team


@pytest.mark.django_db
def test_people_endpoints_answer_bad_input_with_a_clear_4xx(admin_client):
    sms = make_channel("sms", routing_key="+14155550100", secrets={"auth_token": "t"})
    rep = make_rep("rex")
    cases = [
        ("post", "/api/operator/reps/", {"username": "a b", "full_name": "A"}, 400, "letters, digits"),
        ("post", "/api/operator/reps/", {"username": "rex", "full_name": "Rex 2"}, 400, "the username 'rex' is taken"),
        ("post", "/api/operator/reps/", {"username": "neo", "full_name": "Neo", "team": 999999}, 400, "there is no team 999999"),
        ("post", "/api/operator/reps/", {"username": "neo", "full_name": "Neo", "role": "boss"}, 400, "role"),
        ("post", "/api/operator/reps/", {"username": "neo", "full_name": "Neo", "password": "123"}, 400, "password"),
        ("patch", f"/api/operator/reps/{rep.id}/", {"team": 999999}, 400, "there is no team 999999"),
        ("patch", f"/api/operator/reps/{rep.id}/", {"is_active": "perhaps"}, 400, "is_active"),
        ("patch", "/api/operator/reps/999999/", {"role": "rep"}, 404, ""),
        ("post", "/api/operator/teams/", {"name": "  "}, 400, "name"),
        ("patch", "/api/operator/rep-channels/999999/", {"sandbox": False}, 404, ""),
    ]
    for method, path, body, status, words in cases:
        kwargs = {"data": json.dumps(body), "content_type": "application/json"} if body is not None else {}
        response = getattr(admin_client, method)(path, **kwargs)
        assert response.status_code == status, (path, body, response.content)
        assert words in response.content.decode(), (path, body, response.content)
    make_team("Closers")
    again = admin_client.post("/api/operator/teams/", {"name": "closers"}, content_type="application/json")
    assert again.status_code == 400 and "already exists" in again.json()["name"][0]
    rc = make_rep_channel(rep, sms)
    empty = admin_client.patch(f"/api/operator/rep-channels/{rc.id}/", {}, content_type="application/json")
    assert empty.status_code == 400 and "give sandbox or is_available" in empty.content.decode()
    assert not SalesRep.objects.filter(user__username="neo").exists()
    assert Team.objects.count() == 1


@pytest.mark.django_db
def test_reps_and_teams_are_created_changed_and_deactivated(admin_client):
    team = admin_client.post("/api/operator/teams/", {"name": "Hunters"}, content_type="application/json").json()
    made = admin_client.post("/api/operator/reps/", {"username": "nina", "full_name": "Nina New", "email": "nina@example.com",
                                                     "team": team["id"]}, content_type="application/json")
    assert made.status_code == 201
    rep = SalesRep.objects.select_related("user").get(user__username="nina")
    assert rep.team_id == team["id"] and rep.role == "rep"
    assert rep.user.check_password(made.json()["initial_password"])  # shown once, stored hashed
    assert made.json()["initial_password"] not in rep.user.password
    changed = admin_client.patch(f"/api/operator/reps/{rep.id}/", {"role": "manager", "team": None},
                                 content_type="application/json").json()
    assert changed["role"] == "manager" and changed["team"] is None
    off = admin_client.patch(f"/api/operator/reps/{rep.id}/", {"is_active": False}, content_type="application/json").json()
    assert off["is_active"] is False
    nina = Client()
    assert not nina.login(username="nina", password=made.json()["initial_password"])
    listed = admin_client.get("/api/operator/reps/").json()["results"]
    assert [(r["username"], r["role"], r["is_active"]) for r in listed] == [("nina", "manager", False)]
    assert admin_client.get("/api/operator/teams/").json()["results"] == [{"id": team["id"], "name": "Hunters", "reps": 0}]


@pytest.mark.django_db
def test_a_rep_channels_sandbox_is_switched_from_the_channel(admin_client):
    channel = make_channel("whatsapp", routing_key="111")
    rc = make_rep_channel(make_rep("sara"), channel, sandbox=True)
    rows = admin_client.get(f"/api/operator/channels/{channel.id}/rep-channels/").json()["results"]
    assert [(r["rep_name"], r["sandbox"]) for r in rows] == [("Sara", True)]
    answer = admin_client.patch(f"/api/operator/rep-channels/{rc.id}/", {"sandbox": False}, content_type="application/json")
    assert answer.status_code == 200 and answer.json()["sandbox"] is False
    assert SalesRepChannel.objects.get(pk=rc.pk).sandbox is False


@pytest.mark.django_db
def test_a_rep_channel_without_its_own_zone_shows_the_reps(admin_client):
    channel = make_channel("whatsapp", routing_key="111")
    lisbon = make_rep("lia")
    SalesRep.objects.filter(pk=lisbon.pk).update(timezone="Europe/Lisbon")
    make_rep_channel(lisbon, channel, tz="")  # blank: the rep's zone
    make_rep_channel(make_rep("tom"), channel, tz="Asia/Tokyo")
    rows = admin_client.get(f"/api/operator/channels/{channel.id}/rep-channels/").json()["results"]
    assert [(r["rep_name"], r["timezone"], r["timezone_override"]) for r in rows] == [
        ("Lia", "Europe/Lisbon", ""), ("Tom", "Asia/Tokyo", "Asia/Tokyo")]
