"""Every channel activity through one path (#18 item 3): requested on the API, decided by the
message rules (the activity's own window and cap), performed by the channel's service on
loopback (signed, idempotent), recorded in the ledger against the day's shift."""
from __future__ import annotations

import hashlib
import hmac
import json
import time as clock
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from inbox.models import ActivityRequest
from inbox.services import activities
from inbox.services.activities import activities_dispatch_due
from inbox.tests.factories import make_rep, make_team, make_user, race
from inbox.tests.fake_provider import FakeProvider
from salesreps.models import ActivityRecord, DailyAllowance, ShiftError, WorkingShift
from salesreps.services import channel_create, rep_channel_create

pytestmark = pytest.mark.django_db
SECRET = "svc-secret"


def zone_where_it_is(hour: int) -> str:
    """A fixed-offset zone (no DST) whose wall clock reads `hour`:xx right now, so the API's
    real clock and the activity's window agree without pinning time."""
    offset = (hour - timezone.now().astimezone(ZoneInfo("UTC")).hour + 12) % 24 - 12  # -12..11
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"  # Etc/GMT-3 is UTC+3


@pytest.fixture
def likes(client_for, fast_passwords):
    def build(service_url: str, *, sandbox=False, cap=5, warmup_start=None, warmup_step=0):
        team = make_team()
        rep = make_rep("lina", team=team)
        channel = channel_create(name="Insta Bridge", kind="instagram", internal_url=service_url,
                                 activities=["message", "like", "comment"], secrets={"secret": SECRET}, team=team)
        rep_channel = rep_channel_create(rep=rep, channel=channel, start_time=time(9), end_time=time(18), timezone=zone_where_it_is(10),
                                         sandbox=sandbox, username="lina.sells", warmup_start=warmup_start, warmup_step=warmup_step,
                                         activities=[{"activity": "like", "start_time": time(10), "end_time": time(12), "max_capacity": cap}])
        return rep, rep_channel, client_for(rep.user)
    return build


def request_likes(client, rep_channel, n: int) -> list[int]:
    ids = []
    for i in range(n):
        answer = client.post("/api/activities/", {"rep_channel": rep_channel.id, "activity": "like",
                                                  "target": f"https://www.instagram.com/p/post{i}/"},
                             content_type="application/json", headers={"Idempotency-Key": f"like-{i}"})
        assert answer.status_code == 201, answer.content
        assert answer.json()["status"] == "queued"
        ids.append(answer.json()["id"])
    return ids


def test_a_like_capped_at_5_in_its_hours_performs_5_of_8_and_defers_3_to_the_next_window(likes, client_for):
    with FakeProvider() as service:
        rep, rep_channel, client = likes(service.url)
        ids = request_likes(client, rep_channel, 8)
        assert activities_dispatch_due() == 8

        requests = {r.id: r for r in ActivityRequest.objects.filter(id__in=ids)}
        done = [i for i in ids if requests[i].status == "done"]
        deferred = [requests[i] for i in ids if requests[i].status == "deferred"]
        assert done == ids[:5] and len(deferred) == 3
        zone = ZoneInfo(rep_channel.timezone)
        today = timezone.now().astimezone(zone).date()
        next_window = datetime.combine(today + timedelta(days=1), time(10), tzinfo=zone)
        for r in deferred:
            assert (r.defer_code, r.due_at) == ("activity_cap", next_window)
            assert "daily capacity reached (5)" in r.defer_reason and f"{today + timedelta(days=1)} 10:00" in r.defer_reason

        # The service got exactly the 5 performed, each signed and keyed as its contract says.
        assert len(service.calls) == 5
        for (path, headers, raw), request_id in zip(service.calls, done, strict=True):
            assert path == "/activities"
            assert headers["Idempotency-Key"] == f"switchboard-activity-{request_id}"
            assert headers["X-Switchboard-Channel"] == "Insta Bridge"
            t, v1 = (part.split("=", 1)[1] for part in headers["X-Switchboard-Signature"].split(","))
            assert v1 == hmac.new(SECRET.encode(), f"{t}.".encode() + raw, hashlib.sha256).hexdigest()
            body = json.loads(raw)
            assert body == {"channel": "Insta Bridge", "activity": "like", "target": requests[request_id].target, "text": "",
                            "rep": "lina.sells", "idempotency_key": f"switchboard-activity-{request_id}"}

        # Each performed like is in the ledger, against the shift its first activity materialized.
        shift = WorkingShift.objects.get(rep=rep, date=today)
        assert (shift.number, shift.planned, shift.start_time, shift.end_time) == (1, False, time(9), time(18))
        records = ActivityRecord.objects.filter(activity_request_id__in=ids)
        assert sorted(records.values_list("activity_request_id", flat=True)) == sorted(done)
        assert set(records.values_list("shift_id", "shift_day")) == {(shift.id, today)}

        # The cap hit is a shift error (a warning), counted once per refused like.
        error = ShiftError.objects.get(rep_channel=rep_channel, day=today, code="activity_cap")
        assert (error.level, error.count, error.rep_id, error.shift_id) == (1, 3, rep.id, shift.id)

        # The rep's today shows it: 5 of 5 used, blocked by the cap until the next window.
        mine = client.get(f"/api/reps/{rep.id}/today/").json()
        like = next(a for c in mine["channels"] for a in c["activities"] if a["activity"] == "like")
        assert (like["used"], like["remaining"], like["blocked_by"]) == (5, 0, "activity_cap")
        assert [(s["number"], s["records"]) for s in mine["shifts"]] == [(1, {"like": 5})]
        assert [(e["code"], e["count"], e["level"]) for e in mine["errors"]] == [("activity_cap", 3, 1)]
        shifts = client.get(f"/api/reps/{rep.id}/shifts/").json()
        shifts = shifts["results"] if isinstance(shifts, dict) else shifts
        assert [(s["date"], s["planned"], s["records"]) for s in shifts] == [(str(today), False, {"like": 5})]

        # Tomorrow at 10:05 the 3 go out, recorded against tomorrow's shift.
        assert activities_dispatch_due(now=next_window + timedelta(minutes=5)) == 3
        assert ActivityRequest.objects.filter(id__in=ids, status="done").count() == 8
        tomorrow = WorkingShift.objects.get(rep=rep, date=today + timedelta(days=1))
        assert ActivityRecord.objects.filter(shift=tomorrow).count() == 3


def test_the_same_idempotency_key_is_one_request_and_bad_input_names_the_field(likes):
    rep, rep_channel, client = likes("http://127.0.0.1:9")
    first = client.post("/api/activities/", {"rep_channel": rep_channel.id, "activity": "like", "target": "https://x.test/p/1"},
                        content_type="application/json", headers={"Idempotency-Key": "k1"})
    again = client.post("/api/activities/", {"rep_channel": rep_channel.id, "activity": "like", "target": "https://x.test/p/1"},
                        content_type="application/json", headers={"Idempotency-Key": "k1"})
    assert (first.status_code, again.status_code, again.json()["id"]) == (201, 200, first.json()["id"])

    def post(body):
        return client.post("/api/activities/", body, content_type="application/json")
    unknown = post({"rep_channel": rep_channel.id, "activity": "follow", "target": "x"})
    assert unknown.status_code == 400 and "'follow'" in unknown.json()["activity"][0] and "like" in unknown.json()["activity"][0]
    message = post({"rep_channel": rep_channel.id, "activity": "message", "target": "x"})
    assert message.status_code == 400 and "conversation" in message.json()["activity"][0]
    blank = post({"rep_channel": rep_channel.id, "activity": "like", "target": "   "})
    assert blank.status_code == 400 and "target" in blank.json()
    assert post({"rep_channel": "seven", "activity": "like", "target": "x"}).status_code == 400
    assert post({"rep_channel": rep_channel.id + 1000, "activity": "like", "target": "x"}).status_code == 404
    assert ActivityRequest.objects.count() == 1


def test_another_rep_cannot_request_or_see_activities_but_the_manager_can(likes, client_for):
    rep, rep_channel, client = likes("http://127.0.0.1:9")
    other = client_for(make_rep("otto", team=rep.team).user)
    body = {"rep_channel": rep_channel.id, "activity": "like", "target": "https://x.test/p/1"}
    assert other.post("/api/activities/", body, content_type="application/json").status_code == 404
    created = client.post("/api/activities/", body, content_type="application/json").json()
    assert other.get("/api/activities/").json()["results"] == []
    manager = client_for(make_rep("mona", team=rep.team, role="manager").user)
    assert [a["id"] for a in manager.get("/api/activities/").json()["results"]] == [created["id"]]
    outsider = client_for(make_rep("mo", team=make_team(), role="manager").user)
    assert outsider.get("/api/activities/").json()["results"] == []
    admin = client_for(make_user("root", superuser=True))
    assert admin.post("/api/activities/", body, content_type="application/json").status_code == 201


def test_a_failing_service_frees_the_capacity_keeps_an_error_and_the_day_is_no_warmup_day(likes):
    with FakeProvider(status=400, error={"code": "post_gone", "message": "the post was deleted"}) as service:
        rep, rep_channel, client = likes(service.url, warmup_start=2, warmup_step=1)
        [request_id] = request_likes(client, rep_channel, 1)
        activities_dispatch_due()
        request = ActivityRequest.objects.get(pk=request_id)
        assert (request.status, request.error_code) == ("failed", "post_gone")
        assert "the post was deleted" in request.error_title
        assert not ActivityRecord.objects.filter(activity_request_id=request_id).exists()
        assert not DailyAllowance.objects.filter(rep_channel=rep_channel).exists()  # nothing performed: not an active day
        error = ShiftError.objects.get(rep_channel=rep_channel, code="service_failed")
        assert error.level == 2 and "post_gone" in error.message

        service.status = 200  # the service is back: retried by hand, it goes out
        assert client.post(f"/api/activities/{request_id}/retry/").json()["status"] == "queued"
        activities_dispatch_due()
        assert ActivityRequest.objects.get(pk=request_id).status == "done"
        assert list(DailyAllowance.objects.filter(rep_channel=rep_channel).values_list("allowance", flat=True)) == [2]


def test_a_crash_after_the_decision_performs_the_like_once(likes):
    """A worker killed after reserving (lease ran out) is re-claimed: the service dedupes on the key."""
    with FakeProvider() as service:
        rep, rep_channel, client = likes(service.url)
        [request_id] = request_likes(client, rep_channel, 1)
        now = timezone.now()
        assert activities.activities_claim_due(now=now) == [request_id]
        assert activities._reserve(request_id, now) is not None  # decided and reserved; the worker dies here
        later = now + timedelta(minutes=10)  # past the lease
        assert activities_dispatch_due(now=later) == 1
        assert activities_dispatch_due(now=later) == 0
        assert ActivityRequest.objects.get(pk=request_id).status == "done"
        assert ActivityRecord.objects.filter(activity_request_id=request_id).count() == 1
        assert len(service.accepted) == 1


def test_sandbox_performs_without_calling_the_service(likes):
    with FakeProvider() as service:
        rep, rep_channel, client = likes(service.url, sandbox=True)
        [request_id] = request_likes(client, rep_channel, 1)
        activities_dispatch_due()
        request = ActivityRequest.objects.get(pk=request_id)
        assert request.status == "done" and request.external_id.startswith("sandbox-")
        assert service.calls == []
        assert ActivityRecord.objects.filter(activity_request_id=request_id).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_performs_a_requested_activity_on_the_channel_service(likes, celery_worker_proc):
    """The same worker task that sends messages performs activities: woken by the request's commit."""
    with FakeProvider() as service:
        rep, rep_channel, client = likes(service.url)
        [request_id] = request_likes(client, rep_channel, 1)
        deadline = clock.monotonic() + 30
        while ActivityRequest.objects.get(pk=request_id).status != "done" and clock.monotonic() < deadline:
            clock.sleep(0.1)
        assert ActivityRequest.objects.get(pk=request_id).status == "done"
        assert [path for path, _, _ in service.calls] == ["/activities"]


@pytest.mark.django_db(transaction=True)
def test_four_workers_racing_twenty_likes_perform_exactly_the_cap(likes):
    """The rep-channel row lock serialises the decisions: the cap holds however many workers race,
    and no request is performed twice."""
    with FakeProvider(delay=0.02) as service:
        rep, rep_channel, client = likes(service.url)
        ids = request_likes(client, rep_channel, 20)
        _, errors = race(4, lambda: activities_dispatch_due(batch=3))
        assert errors == []
        statuses = sorted(ActivityRequest.objects.filter(id__in=ids).values_list("status", flat=True))
        assert statuses == ["deferred"] * 15 + ["done"] * 5
        assert ActivityRecord.objects.filter(activity_request_id__in=ids).count() == 5
        assert len(service.calls) == 5 and len(set(service.accepted)) == 5


def test_a_request_whose_rules_raise_is_left_to_its_lease_and_the_others_go(likes):
    rep, rep_channel, client = likes("http://127.0.0.1:9", sandbox=True)
    good = request_likes(client, rep_channel, 2)
    broken_channel = channel_create(name="Broken", kind="service", activities=["like"], team=rep.team)
    broken = rep_channel_create(rep=rep, channel=broken_channel, start_time=time(0), end_time=time(23, 59))
    # A zone the database should never hold (written around the validation): deciding its hours raises.
    type(broken).objects.filter(pk=broken.pk).update(timezone="Mars/Olympus_Mons")
    poisoned = client.post("/api/activities/", {"rep_channel": broken.id, "activity": "like", "target": "https://x.test/1"},
                           content_type="application/json").json()["id"]
    activities_dispatch_due()
    assert set(ActivityRequest.objects.filter(id__in=good).values_list("status", flat=True)) == {"done"}
    request = ActivityRequest.objects.get(pk=poisoned)
    assert request.status == "sending" and request.lease_until is not None
    assert not ActivityRecord.objects.filter(activity_request_id=poisoned).exists()
