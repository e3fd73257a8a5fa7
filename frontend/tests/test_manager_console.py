"""The manager console: its endpoints (team scope, refusals, bad input) and, in a real browser
(Playwright driving Debian's Chromium against daphne and a Celery worker), the manager's flows:
build a campaign with a filter and its live count and a rep pool, start it, watch progress move
live from the socket's `campaign.progress` frames, read why a recipient waits, pause it; edit a
rep's week, add and delete a date override, set capacity; the live team board and the charts.
Each screen passes axe-core."""
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from django.test import Client
from django.utils import timezone

from campaigns.models import Campaign, CampaignRecipient
from campaigns.tests.world import make_contact
from frontend.tests.pages import assert_accessible, login
from inbox.models import ActivityRequest, Contact, Conversation, Message, Template
from inbox.services.activities import activities_dispatch_due
from inbox.tests.factories import make_channel, make_conversation, make_rep, make_rep_channel, make_team, make_user
from salesreps.models import ChannelActivity, SalesRepChannel, SalesRepChannelActivity, WeeklyWindow, WorkingShift
from webhooks.tests.signing import SECRET, signed

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE_ID = "555000222"


def world():
    """Two teams on their own channels; team A's contacts carry tags the filters pick."""
    a, b = make_team("Closers"), make_team("Openers")
    alice, bob = make_rep("alice", team=a), make_rep("bob", team=a)
    maya = make_rep("maya", team=a, role="manager")
    olga, oscar = make_rep("olga", team=b), make_rep("oscar", team=b, role="manager")
    wa = make_channel("whatsapp", name="WhatsApp Sales", routing_key=PHONE_ID, secrets={"app_secret": SECRET}, team=a)
    sms = make_channel("sms", name="SMS Openers", team=b)
    make_rep_channel(alice, wa, capacity=200, warmup_start=40, warmup_step=20)
    make_rep_channel(bob, wa, capacity=200)
    make_rep_channel(olga, sms, capacity=50)
    lisbon = [make_contact(name=n, team=a, tags=["lisbon"], lead_score=s) for n, s in (("Ana Lisboa", 30), ("Rui Costa", 20), ("Eva Reis", 10))]
    make_contact(name="Pia Porto", team=a, tags=["porto"])
    make_contact(name="Otto Out", team=a, tags=["lisbon"], opted_out=True)
    make_contact(name="Nia Nosms", team=a, tags=["lisbon", "vip"], preferences={"opt_outs": ["whatsapp"]})
    make_contact(name="Bo Other", team=b, tags=["lisbon"])
    Template.objects.create(name="spring_offer", body="Hi {first_name}, the {offer} is on until Friday.", whatsapp_name="spring_offer")
    Template.objects.create(name="spring_nudge", body="Still interested in the {offer}, {first_name}?", whatsapp_name="spring_nudge")
    return {"a": a, "b": b, "alice": alice, "bob": bob, "maya": maya, "olga": olga, "oscar": oscar, "wa": wa, "sms": sms,
            "lisbon": lisbon}


def client_for(username: str) -> Client:
    client = Client()
    assert client.login(username=username, password=f"pass-{username}")
    return client


# ---- endpoints ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_rep_is_refused_the_console_page_and_every_endpoint_it_reads():
    w = world()
    rep = client_for("alice")
    page = rep.get("/dashboard/")
    assert page.status_code == 403 and b"Managers only" in page.content
    for url in ("/api/dashboard/", "/api/campaigns/audience/?tags_any=lisbon", "/api/campaigns/options/", "/api/campaigns/"):
        assert rep.get(url).status_code == 403, url
    assert client_for("maya").get("/dashboard/").status_code == 200
    assert Client().get("/dashboard/").status_code == 302  # signed out: to the sign-in page
    assert w["alice"].role == "rep"


@pytest.mark.django_db
def test_the_audience_count_is_the_managers_team_only_and_tells_what_consent_leaves_out():
    w = world()
    maya = client_for("maya").get("/api/campaigns/audience/", {"tags_any": "lisbon"}).json()
    # Ana, Rui, Eva and Nia match; Otto opted out (never matches); Bo is the other team's.
    assert (maya["matching"], maya["opted_out"], maya["team"]) == (4, 1, w["a"].id)
    assert [c["name"] for c in maya["sample"]][:3] == ["Ana Lisboa", "Rui Costa", "Eva Reis"]
    on_wa = client_for("maya").get("/api/campaigns/audience/", {"tags_any": "lisbon", "channel": w["wa"].id}).json()
    assert (on_wa["reachable"], on_wa["opted_out_channel"]) == (3, 1)  # Nia opted out of WhatsApp
    both = client_for("maya").get("/api/campaigns/audience/?tags_all=lisbon&tags_all=vip").json()
    assert both["matching"] == 1
    oscar = client_for("oscar").get("/api/campaigns/audience/", {"tags_any": "lisbon"}).json()
    assert (oscar["matching"], [c["name"] for c in oscar["sample"]]) == (1, ["Bo Other"])
    make_user("root", superuser=True)
    admin = client_for("root").get("/api/campaigns/audience/", {"tags_any": "lisbon"}).json()
    assert admin["matching"] == 5 and admin["team"] is None


@pytest.mark.django_db
@pytest.mark.parametrize(("query", "named"), [
    ({"min_score": "lots"}, "min_score"),
    ({"min_score": "99999999999"}, "min_score"),
    ({"country": "POR"}, "country"),
    ({"tags_any": "x" * 51}, "tags_any"),
    ({"channel": "0"}, "channel"),
    ({"channel": "99999999999999999999999"}, "channel"),
    ({"channel": "abc"}, "channel"),
])
def test_bad_audience_input_is_a_400_naming_the_field(query, named):
    world()
    response = client_for("maya").get("/api/campaigns/audience/", query)
    assert response.status_code == 400
    assert named in json.dumps(response.json())


@pytest.mark.django_db
def test_another_teams_channel_or_team_is_refused_by_name():
    w = world()
    maya = client_for("maya")
    response = maya.get("/api/campaigns/audience/", {"channel": w["sms"].id})
    assert response.status_code == 400 and f"channel {w['sms'].id}" in response.json()["detail"]
    response = maya.get("/api/campaigns/audience/", {"team": w["b"].id})
    assert response.status_code == 400 and f"team {w['b'].id}" in response.json()["detail"]


@pytest.mark.django_db
def test_builder_options_offer_the_teams_channels_reps_and_tags_only():
    w = world()
    options = client_for("maya").get("/api/campaigns/options/").json()
    assert [t["name"] for t in options["teams"]] == ["Closers"]
    assert [(c["name"], [r["full_name"] for r in c["reps"]]) for c in options["channels"]] == [("WhatsApp Sales", ["Alice", "Bob"])]
    assert {t["name"]: t["contacts"] for t in options["tags"]} == {"lisbon": 4, "porto": 1, "vip": 1}
    assert {r["full_name"] for r in options["reps"]} == {"Alice", "Bob", "Maya"}
    assert "first_name" in options["contact_variables"]
    assert w["olga"].full_name not in json.dumps(options)


@pytest.mark.django_db
def test_the_board_shows_the_team_with_todays_limits_and_what_waits_until_when():
    w = world()
    conversation = make_conversation(w["alice"], w["wa"], name="Ana Waiting")
    until = timezone.now() + timedelta(hours=3)
    Message.objects.create(conversation=conversation, channel=w["wa"], direction="out", status="deferred", body="later",
                           defer_code="capacity", defer_reason="daily capacity reached", due_at=until)
    make_conversation(w["olga"], w["sms"], name="Other Team")
    data = client_for("maya").get("/api/dashboard/").json()
    assert [r["full_name"] for r in data["reps"]] == ["Alice", "Bob", "Maya"]
    alice = data["reps"][0]
    assert alice["open_conversations"] == 1
    message = alice["channels"][0]["activities"][0]
    assert (alice["channels"][0]["channel"], message["activity"], message["allowance"], message["binding_limit"]) == (
        "WhatsApp Sales", "message", 40, "warmup")
    [waiting] = alice["waiting"]
    assert {k: waiting[k] for k in ("status", "code", "reason", "count")} == {
        "status": "deferred", "code": "capacity", "reason": "daily capacity reached", "count": 1}
    assert datetime.fromisoformat(waiting["until"]) == until
    assert all(c["contact_name"] != "Other Team" for c in data["unassigned"])
    assert client_for("oscar").get("/api/dashboard/").json()["reps"][0]["full_name"] == "Olga"


def _likes_world(w):
    """The WhatsApp channel offers likes too; Alice's likes are capped at 1 a day, Bob's have no row
    of their own (the rep-channel's window and cap). Alice asks for two likes: one is done, the
    other waits for tomorrow's cap (the real request and dispatch path, sandboxed)."""
    like = ChannelActivity.objects.create(channel=w["wa"], name="like")
    alice_wa = SalesRepChannel.objects.get(rep=w["alice"], channel=w["wa"])
    SalesRepChannelActivity.objects.create(rep_channel=alice_wa, activity=like, max_capacity=1)
    return alice_wa


def _request_likes(alice_wa, n: int) -> None:
    alice = client_for("alice")
    for i in range(n):
        answer = alice.post("/api/activities/", {"rep_channel": alice_wa.id, "activity": "like", "target": f"https://post/{i}"},
                            content_type="application/json", headers={"Idempotency-Key": f"like-{time.time_ns()}-{i}"})
        assert answer.status_code in (201, 202), answer.json()
    activities_dispatch_due(max_seconds=10)


@pytest.mark.django_db
def test_the_board_shows_every_activity_a_channel_offers_with_its_binding_limit_and_deferred_likes_until_when():
    w = world()
    alice_wa = _likes_world(w)
    _request_likes(alice_wa, 2)
    assert sorted(ActivityRequest.objects.values_list("status", flat=True)) == ["deferred", "done"]
    data = client_for("maya").get("/api/dashboard/").json()
    alice, bob = data["reps"][0], data["reps"][1]
    activities = {a["activity"]: a for a in alice["channels"][0]["activities"]}
    assert sorted(activities) == ["like", "message"]
    like = activities["like"]
    assert (like["used"], like["allowance"], like["max_capacity"], like["binding_limit"], like["blocked_by"]) == (
        1, 1, 1, "activity_cap", "activity_cap")
    assert like["next_opening"] is not None  # until when the cap holds it
    assert activities["message"]["binding_limit"] == "warmup"  # a like is not a message: its use is its own
    assert activities["message"]["used"] == 0
    [waiting] = alice["waiting"]
    deferred = ActivityRequest.objects.get(status="deferred")
    assert {k: waiting[k] for k in ("activity", "status", "code", "count")} == {
        "activity": "like", "status": "deferred", "code": "activity_cap", "count": 1}
    assert datetime.fromisoformat(waiting["until"]) == deferred.due_at and waiting["reason"] == deferred.defer_reason
    # Bob has no like row of his own: his likes still show, under the rep-channel's cap and ramp.
    bob_like = next(a for a in bob["channels"][0]["activities"] if a["activity"] == "like")
    assert (bob_like["used"], bob_like["allowance"], bob_like["blocked_by"]) == (0, 200, None)
    assert bob["waiting"] == []


@pytest.mark.django_db
def test_the_charts_count_the_managers_team_only_and_only_messages_that_went():
    """Messages per day by channel, first-response time and the campaign funnel: team A's manager
    never sees team B's (its messages, its response times, its campaign); a queued campaign message
    is not a message of the day; the days are the server's."""
    w = world()
    mine = make_conversation(w["alice"], w["wa"], name="Ana Lisboa Chat")
    theirs = make_conversation(w["olga"], w["sms"], name="Other Team Chat")
    now = timezone.now()

    def message(conversation, *, days_ago, direction, status, n=1):
        for _ in range(n):
            m = Message.objects.create(conversation=conversation, channel=conversation.channel, direction=direction,
                                       status=status, body="x")
            Message.objects.filter(pk=m.pk).update(created_at=now - timedelta(days=days_ago))

    message(mine, days_ago=2, direction="in", status="received", n=2)
    message(mine, days_ago=0, direction="out", status="delivered")
    message(mine, days_ago=0, direction="out", status="queued", n=5)  # planned, not gone: not counted
    message(mine, days_ago=0, direction="out", status="cancelled")
    message(theirs, days_ago=0, direction="in", status="received", n=7)
    message(theirs, days_ago=2, direction="out", status="read", n=3)
    Conversation.objects.filter(pk=mine.pk).update(first_response_seconds=600)
    Conversation.objects.filter(pk=theirs.pk).update(first_response_seconds=60)
    old = make_conversation(w["bob"], w["wa"], name="Old Chat")  # opened before the period: not in its average
    Conversation.objects.filter(pk=old.pk).update(first_response_seconds=9000, created_at=now - timedelta(days=30))
    other_campaign = Campaign.objects.create(name="Openers promo", team=w["b"], channel=w["sms"], text="Hi",
                                             start_at=datetime(2030, 1, 1), end_at=datetime(2030, 1, 2))
    my_campaign = Campaign.objects.create(name="Closers promo", team=w["a"], channel=w["wa"], text="Hi",
                                          start_at=datetime(2030, 1, 1), end_at=datetime(2030, 1, 2))

    maya = client_for("maya")
    data = maya.get("/api/dashboard/", {"days": 7}).json()
    today = timezone.localdate()
    assert data["dates"] == [(today - timedelta(days=n)).isoformat() for n in range(6, -1, -1)]
    per_day = {(r["day"], r["channel"]): r["count"] for r in data["messages_per_day"]}
    assert per_day == {((today - timedelta(days=2)).isoformat(), "whatsapp"): 2, (today.isoformat(), "whatsapp"): 1}
    assert "sms" not in json.dumps(data["messages_per_day"])  # team B's channel
    assert [(r["day"], r["seconds"]) for r in data["first_response_per_day"]] == [(today.isoformat(), 600)]
    assert data["first_response_seconds"] == 600
    assert [c["name"] for c in data["campaigns"]] == ["Closers promo"]
    assert maya.get(f"/api/campaigns/{my_campaign.id}/stats/").status_code == 200  # the funnel's figures
    assert maya.get(f"/api/campaigns/{other_campaign.id}/stats/").status_code == 404
    assert "Openers" not in json.dumps(data) and "Other Team Chat" not in json.dumps(data)

    oscar = client_for("oscar").get("/api/dashboard/", {"days": 7}).json()
    assert sum(r["count"] for r in oscar["messages_per_day"]) == 10
    assert {r["channel"] for r in oscar["messages_per_day"]} == {"sms"}
    assert oscar["first_response_seconds"] == 60 and [c["name"] for c in oscar["campaigns"]] == ["Openers promo"]


@pytest.mark.django_db
@pytest.mark.parametrize("days", ["0", "91", "week", "1e9"])
def test_bad_dashboard_days_are_a_400_naming_days(days):
    world()
    response = client_for("maya").get("/api/dashboard/", {"days": days})
    assert response.status_code == 400 and "days" in response.json()


# ---- in the browser -------------------------------------------------------------------------


def _status_webhook(base, *, wa_id, message_id, status):
    value = {"messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550002222", "phone_number_id": PHONE_ID},
             "statuses": [{"id": message_id, "status": status, "timestamp": str(int(time.time())), "recipient_id": wa_id}]}
    payload = {"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": value}]}]}
    body, content_type, headers = signed("whatsapp", json.dumps(payload).encode())
    response = httpx.post(f"{base}/webhooks/whatsapp/", content=body,
                          headers={"Content-Type": content_type, "X-Hub-Signature-256": headers["HTTP_X_HUB_SIGNATURE_256"]})
    assert response.status_code == 200, response.text


def _console(browser, base, username, *, width=1280, height=720):
    context, page = login(browser, base, username)
    page.set_viewport_size({"width": width, "height": height})
    page.goto("/dashboard/")
    page.wait_for_function("() => document.body.dataset.socket === 'online'")
    return context, page


def _tile(page, name) -> str:
    return page.locator(f"#campaign-progress [data-stat={name}] .mc-tile-value").inner_text()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_manager_builds_a_campaign_with_a_live_count_starts_it_watches_it_and_pauses_it(browser, asgi_server, celery_worker_proc):
    w = world()
    context, page = _console(browser, asgi_server, "maya")
    page.get_by_role("link", name="Campaigns").click()
    page.get_by_role("link", name="New campaign").click()
    page.get_by_label("Name").fill("Lisbon spring offer")
    count = page.locator("#audience-count strong")
    count.wait_for()
    assert count.get_attribute("data-count") == "5"  # no filter: the team's contacts who have not opted out
    page.get_by_label("Any of these tags").fill("lisbon")
    page.wait_for_function("() => document.querySelector('#audience-count strong')?.dataset.count === '4'")
    assert "3 reachable on the channel" in page.locator("#audience-count").inner_text()
    assert "1 opted out of this channel" in page.locator("#audience-count").inner_text()
    assert "Alice" in page.locator("#rep-pool").inner_text() and "Bob" in page.locator("#rep-pool").inner_text()
    assert "every rep of your team" in page.locator("#rep-pool-said").inner_text()
    page.locator("#rep-pool").get_by_label("Alice").check()  # the pool: only Alice sends it
    page.locator("#rep-pool-said", has_text="Only Alice sends it").wait_for()
    page.locator("#whatsapp-hint").wait_for()  # free text on WhatsApp: the builder says a template is needed
    page.get_by_role("radio", name="Approved template").check()
    page.get_by_label("Message template").select_option(label="spring_offer")
    page.get_by_text("Hi {first_name}, the {offer} is on until Friday.").wait_for()
    page.get_by_label("Value for {offer}").fill("spring offer")
    now = datetime.now(UTC)
    page.get_by_label("Window start").fill((now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Window end").fill((now + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Daily cap").fill("2")
    page.get_by_role("button", name="Add follow-up step").click()
    page.get_by_label("Step 1 template").select_option(label="spring_nudge")
    page.get_by_label("Step 1 delay in hours").fill("48")
    assert_accessible(page, context="campaign builder")
    page.screenshot(path=str(SCREENSHOTS / "manager-campaign-builder.png"), full_page=True)
    page.get_by_role("button", name="Save draft").click()

    page.locator("#campaign-status", has_text="draft").wait_for()
    campaign = Campaign.objects.get(name="Lisbon spring offer")
    assert (campaign.team_id, campaign.audience, campaign.daily_cap, campaign.variables) == (
        w["a"].id, {"tags_any": ["lisbon"]}, 2, {"offer": "spring offer"})
    assert list(campaign.reps.all()) == [w["alice"]]
    assert "sent by Alice" in page.locator("#campaign-pool").inner_text()
    step = campaign.steps.get()
    assert (campaign.template.name, step.template.name, step.delay_hours) == ("spring_offer", "spring_nudge", 48)
    page.get_by_role("button", name="Start campaign").click()
    page.locator("#campaign-said", has_text="Started: 3 messages planned").wait_for(timeout=10000)
    # The window opened an hour ago: running from the answer to Start on, not "scheduled" until beat.
    assert page.locator("#campaign-status").inner_text() == "running"
    assert Campaign.objects.get(pk=campaign.pk).status == "running"

    # The worker sends two (the daily cap), live: the page is never reloaded and reads no figures on
    # message frames; the socket's `campaign.progress` frames carry them.
    page.wait_for_function("() => document.querySelector('#campaign-progress [data-stat=sent] .mc-tile-value')?.textContent === '2'",
                           timeout=30000)
    assert page.locator("#campaign-progress").get_attribute("data-source") == "socket"
    assert _tile(page, "planned") == "3" and _tile(page, "waiting") == "1"
    sent = list(Message.objects.filter(status="sent", conversation__contact__in=w["lisbon"]))
    assert len(sent) == 2
    alice_wa = SalesRepChannel.objects.get(rep=w["alice"], channel=w["wa"])
    assert {m.rep_channel_id for m in sent} == {alice_wa.id}  # only the pool's rep sends
    assert set(CampaignRecipient.objects.filter(campaign=campaign).values_list("rep_id", flat=True)) == {w["alice"].id}
    contact = Contact.objects.get(pk=sent[0].conversation.contact_id)
    _status_webhook(asgi_server, wa_id=contact.phone.lstrip("+"), message_id=sent[0].external_id, status="delivered")
    page.wait_for_function("() => document.querySelector('#campaign-progress [data-stat=delivered] .mc-tile-value')?.textContent === '1'",
                           timeout=10000)
    page.locator("#recipients tbody tr").nth(2).wait_for()
    assert page.locator("#recipients tbody tr").count() == 3
    assert "Page 1 of 1 · 3 recipients" in page.locator("#recipients-page").inner_text()
    # Why the third waits: once the dispatcher has held it for the cap, the table says so.
    waiting_row = CampaignRecipient.objects.get(campaign=campaign, state="scheduled")
    deadline = time.monotonic() + 30
    while Message.objects.get(pk=waiting_row.message_id).defer_code != "campaign_cap" and time.monotonic() < deadline:
        time.sleep(0.3)
    page.get_by_label("State").select_option(label="waiting")
    why = page.locator("#recipients tbody tr[data-state=scheduled] .mc-why")
    page.locator("#recipients-page", has_text="Page 1 of 1 · 1 recipients").wait_for()  # the filtered page came
    why.filter(has_text="campaign daily cap 2 reached").wait_for(timeout=10000)
    page.get_by_label("State").select_option(label="all")
    page.locator("#recipients tbody tr").nth(2).wait_for()
    # behind the live tiles, the per-rep figures are re-read too: Alice sent both
    page.locator("#per-rep tbody tr", has_text="Alice").locator("td").nth(3).filter(has_text="2").wait_for(timeout=10000)
    assert_accessible(page, context="campaign page")
    page.screenshot(path=str(SCREENSHOTS / "manager-campaign.png"), full_page=True)

    page.get_by_role("button", name="Pause").click()
    # the status may come first over the socket's campaign.progress frame; the action's own answer follows
    page.locator("#campaign-status", has_text="paused").wait_for()
    page.locator("#campaign-said", has_text="Paused: held 1 waiting message").wait_for()
    campaign.refresh_from_db()
    assert campaign.status == "paused"
    waiting = CampaignRecipient.objects.get(campaign=campaign, state="scheduled")
    assert Message.objects.get(pk=waiting.message_id).defer_code == "campaign_paused"

    page.get_by_role("button", name="Resume").click()
    page.locator("#campaign-said", has_text="Resumed: 1 waiting message").wait_for()
    assert page.locator("#campaign-status").inner_text() == "running"  # two were already sent
    page.get_by_role("button", name="Cancel campaign").click()
    page.get_by_role("button", name="Yes, cancel every unsent message").click()
    page.locator("#campaign-status", has_text="cancelled").wait_for()
    page.wait_for_function("() => document.querySelector('#campaign-progress [data-stat=cancelled] .mc-tile-value')?.textContent === '1'")
    assert CampaignRecipient.objects.get(pk=waiting.pk).state == "cancelled"
    assert Message.objects.get(pk=waiting.message_id).status == "cancelled"

    page.get_by_role("link", name="← Campaigns").click()
    page.locator("#campaign-list", has_text="Lisbon spring offer").wait_for()
    assert_accessible(page, context="campaign list")
    context.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_manager_edits_a_reps_weekly_schedule_and_capacity_and_sees_what_changes_today(browser, asgi_server):
    w = world()
    context, page = _console(browser, asgi_server, "maya")
    page.get_by_role("link", name="Schedules").click()
    page.get_by_label("Rep", exact=True).select_option(label="Alice")
    page.get_by_role("heading", name="Weekly schedule of Alice").wait_for()
    page.locator("#schedule-today").wait_for()
    page.get_by_label("Time zone").fill("Mars/Olympus")
    page.get_by_role("button", name="Save schedule").click()
    page.locator("#schedule-error", has_text="timezone").wait_for()  # the server's refusal, naming the field
    assert "Mars/Olympus" in page.locator("#schedule-error").inner_text()
    page.get_by_label("Time zone").fill("Europe/Lisbon")
    page.get_by_role("button", name="Add window on Monday").click()
    page.get_by_label("Monday window 1 start").fill("08:00")
    page.get_by_label("Monday window 1 end").fill("12:00")
    page.get_by_role("button", name="Add window on Monday").click()
    page.get_by_label("Monday window 2 start").fill("13:00")
    page.get_by_label("Monday window 2 end").fill("17:30")
    page.get_by_role("button", name="Copy Monday to Tuesday–Friday").click()
    today = datetime.now(ZoneInfo("Europe/Lisbon"))
    if today.weekday() >= 5:  # a weekend day: give it a night window, so today changes too
        name = ["Saturday", "Sunday"][today.weekday() - 5]
        page.get_by_role("button", name=f"Add window on {name}").click()
        page.get_by_label(f"{name} window 1 start").fill("22:00")
        page.get_by_label(f"{name} window 1 end").fill("02:00")
    page.get_by_role("button", name="Save schedule").click()
    changes = page.locator("#schedule-changes")
    changes.wait_for()
    assert "Today's windows" in changes.inner_text()  # before: the channel's daily hours; now: the week's
    rows = list(WeeklyWindow.objects.filter(rep=w["alice"]).order_by("weekday", "start_time")
                .values_list("weekday", "start_time", "end_time"))
    assert len([r for r in rows if r[0] < 5]) == 10 and rows[0][1].strftime("%H:%M") == "08:00"
    w["alice"].refresh_from_db()
    assert w["alice"].timezone == "Europe/Lisbon"
    # A date override for today, then deleted: each says what it changes today.
    lisbon_today = datetime.now(ZoneInfo("Europe/Lisbon")).date().isoformat()
    overrides = page.locator("section", has=page.get_by_role("heading", name="Date overrides"))
    overrides.get_by_label("Date", exact=True).fill(lisbon_today)
    overrides.get_by_label("Day off").check()
    overrides.get_by_label("Note").fill("dentist")
    overrides.get_by_role("button", name="Add override").click()
    page.locator("#override-said", has_text=f"Override for {lisbon_today} saved").wait_for()
    assert "day off" in page.locator("#override-changes").inner_text()
    shift = WorkingShift.objects.get(rep=w["alice"], date=lisbon_today)
    assert shift.is_day_off and shift.planned
    page.locator("#schedule-today", has_text="day off").wait_for()
    assert_accessible(page, context="schedule editor")
    page.screenshot(path=str(SCREENSHOTS / "manager-schedule.png"), full_page=True)
    page.get_by_role("button", name=f"Delete override on {lisbon_today}, shift 1").click()
    page.locator("#override-said", has_text=f"Override for {lisbon_today} deleted").wait_for()
    changes = page.locator("#override-changes").inner_text()
    assert "What this changes today" in changes and "day off" in changes  # before: day off; now: the week's windows
    assert not WorkingShift.objects.filter(pk=shift.pk).exists()
    page.locator("#overrides").wait_for(state="detached")  # no override left from today on
    page.locator("#schedule-today", has_text="day off").wait_for(state="detached")
    assert_accessible(page, context="schedule editor after deleting an override")

    page.get_by_label("WhatsApp Sales daily capacity").fill("30")
    page.get_by_label("WhatsApp Sales warm-up start").fill("10")
    page.get_by_role("button", name="Save WhatsApp Sales").click()
    said = page.locator(".mc-capacity [role=status]")
    said.wait_for()
    assert "allowance 40 → 10" in said.inner_text()
    rc = SalesRepChannel.objects.get(rep=w["alice"], channel=w["wa"])
    assert (rc.max_daily_capacity, rc.warmup_start) == (30, 10)
    context.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_team_board_is_live_and_the_charts_draw_on_desktop_and_phone(browser, asgi_server):
    w = world()
    conversation = make_conversation(w["alice"], w["wa"], name="Ana Lisboa Chat")
    for days_ago, n in ((3, 2), (1, 4), (0, 3)):
        for i in range(n):
            m = Message.objects.create(conversation=conversation, channel=w["wa"], direction="in" if i % 2 else "out",
                                       status="received" if i % 2 else "read", body=f"m{days_ago}-{i}")
            Message.objects.filter(pk=m.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    Conversation.objects.filter(pk=conversation.pk).update(first_response_seconds=420)
    make_conversation(None, w["wa"], name="Queue Person", team=w["a"])
    alice_wa = _likes_world(w)
    _request_likes(alice_wa, 2)  # one like done, one held by Alice's like cap
    context, page = _console(browser, asgi_server, "maya")
    page.locator("#reps tr").first.wait_for()
    names = page.locator("#reps tr th").all_inner_texts()
    assert [n.split()[0] for n in names] == ["Alice", "Bob", "Maya"]  # not the other team's Olga
    alice = page.locator("#reps tr", has_text="Alice")
    message = alice.locator(".mc-activity[data-activity=message]")
    assert "binds: warm-up allowance" in message.inner_text()
    assert "0 / 40" in message.inner_text()
    like = alice.locator(".mc-activity[data-activity=like]")  # per activity, not only messages
    assert "1 / 1" in like.inner_text() and "binds: daily cap" in like.inner_text()
    assert "daily cap until" in like.inner_text()  # blocked, and until when
    waiting = alice.locator(".mc-waiting li[data-activity=like]")
    assert "1 like deferred" in waiting.inner_text() and "(until " in waiting.inner_text()
    bob_like = page.locator("#reps tr", has_text="Bob").locator(".mc-activity[data-activity=like]")
    assert "0 / 200" in bob_like.inner_text() and "open" in bob_like.inner_text()  # no row of his own: the rep-channel's cap
    assert "offline" in alice.inner_text()
    assert "available" in alice.locator("td[data-label=Presence]").inner_text()
    assert alice.locator("td[data-label=Open]").inner_text() == "1"
    _request_likes(alice_wa, 1)  # live: the activity frames reload the board, never the page
    alice.locator(".mc-waiting li[data-activity=like]", has_text="2 likes deferred").wait_for(timeout=10000)
    rep_context, _rep_page = login(browser, asgi_server, "alice")  # Alice opens her inbox: the board hears it
    alice.locator("text=online").first.wait_for(timeout=5000)
    assert page.locator("#unassigned li", has_text="Queue Person").count() == 1
    assert_accessible(page, context="team board")
    page.screenshot(path=str(SCREENSHOTS / "manager-team.png"), full_page=True)

    page.get_by_role("link", name="Charts").focus()  # by keyboard: the tabs are links
    page.keyboard.press("Enter")
    page.locator("#volume-chart svg").wait_for()
    assert page.locator("#volume-chart rect").count() >= 3
    assert "7 min" in page.locator("#first-response").inner_text()
    assert_accessible(page, context="charts")
    page.screenshot(path=str(SCREENSHOTS / "manager-charts.png"), full_page=True)

    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("link", name="Team").click()
    page.locator("#reps tr").first.wait_for()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 392  # no sideways scrolling on a phone
    assert_accessible(page, context="team board on a phone")
    page.screenshot(path=str(SCREENSHOTS / "manager-team-phone.png"), full_page=True)
    rep_context.close()
    context.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_date_overrides_from_today_on_follow_the_reps_date_in_their_zone_not_the_browsers(browser, asgi_server):
    """Kiritimati is UTC+14 and Pago Pago UTC-11: whatever the hour, one of them is on another date
    than UTC (the browser's toISOString date), so a split by the browser's date fails for one."""
    w = world()
    maya = client_for("maya")
    utc_today = datetime.now(UTC).date()
    reps = {}
    for name, zone in (("kiri", "Pacific/Kiritimati"), ("pago", "Pacific/Pago_Pago")):
        rep = make_rep(name, team=w["a"])
        answer = maya.put(f"/api/reps/{rep.id}/schedule/", {"timezone": zone, "week": [], "time_off": []},
                          content_type="application/json")
        assert answer.status_code == 200, answer.json()
        for offset in (-2, -1, 0, 1, 2):
            body = {"date": (utc_today + timedelta(days=offset)).isoformat(), "number": 1, "start_time": "09:00",
                    "end_time": "12:00", "is_day_off": False, "note": f"utc{offset:+d}"}
            created = maya.post(f"/api/reps/{rep.id}/shifts/", body, content_type="application/json")
            assert created.status_code == 201, created.json()
        reps[zone] = rep
    local = {zone: datetime.now(ZoneInfo(zone)).date() for zone in reps}
    assert any(day != utc_today for day in local.values())  # the test tells the two rules apart at any hour
    context, page = _console(browser, asgi_server, "maya")
    for zone, rep in reps.items():
        page.goto(f"/dashboard/#schedules/{rep.id}")
        page.get_by_role("heading", name=f"Weekly schedule of {rep.full_name}").wait_for()
        page.get_by_role("heading", name=f"Today ({local[zone].strftime('%A')}, {zone})").wait_for()
        page.locator("#overrides tbody tr").first.wait_for()
        shown = page.locator("#overrides tbody tr td:first-child").all_inner_texts()
        expected = [(utc_today + timedelta(days=o)).isoformat() for o in (-2, -1, 0, 1, 2)
                    if utc_today + timedelta(days=o) >= local[zone]]
        assert shown == expected, (zone, local[zone], shown)
        overrides = page.locator("section", has=page.get_by_role("heading", name="Date overrides"))
        assert overrides.get_by_label("Date", exact=True).input_value() == local[zone].isoformat()  # a new one starts on the rep's today
    assert_accessible(page, context="date overrides far from UTC")
    context.close()
