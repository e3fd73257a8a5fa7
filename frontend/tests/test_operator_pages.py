"""The operator pages (admins) and the first minutes: channels with their webhooks, reps and teams,
templates, `demo_inbound`. Browser tests drive Debian's Chromium against the real daphne; API tests
use the test client against the real PostgreSQL; webhooks go through the real endpoint."""
from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from conftest import BIN, ROOT, _free_port, _test_env, _wait_port
from frontend.tests.pages import assert_accessible
from inbox.models import Message, Template
from platforms.base import RawRequest
from inbox.tests.factories import make_channel, make_rep, make_rep_channel, make_team, make_user
from salesreps.models import Channel, SalesRep, SalesRepChannel, Team
from webhooks import pipeline
from webhooks.models import WebhookEvent
from webhooks.tests.signing import signed

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PAGES = ["/operator/", "/operator/channels/", "/operator/people/", "/operator/templates/"]


# ---------------------------------------------------------------- helpers


def admin_page(browser, base, path, *, width=1280, height=720, username="root"):
    """Sign in as an admin straight to `path`; clipboard access granted so a copy can be read back."""
    context = browser.new_context(base_url=base, viewport={"width": width, "height": height})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"/login/?next={path}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(f"pass-{username}")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}{path}")
    return context, page, errors


def assert_screen(page, *, context: str) -> None:
    """Usable at 1280x720 and on a 390-px-wide phone: at each, nothing is wider than the screen (the
    tables scroll in their own boxes) and axe finds no serious or critical violation. The viewport is
    put back as it was, for the screenshot that follows."""
    before = page.viewport_size
    for width, height in ((1280, 720), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        wide = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert wide <= 1, f"{context} is {wide}px wider than a {width}px screen"
        assert_accessible(page, context=f"{context} at {width}px")
    page.set_viewport_size(before)


def whatsapp_payload(phone_number_id: str, text: str, wa_id: str = "4915100000009") -> bytes:
    value = {"messaging_product": "whatsapp", "metadata": {"display_phone_number": "1555", "phone_number_id": phone_number_id},
             "contacts": [{"profile": {"name": "Una Routed"}, "wa_id": wa_id}],
             "messages": [{"from": wa_id, "id": f"wamid.{time.monotonic_ns()}", "timestamp": str(int(time.time())),
                           "type": "text", "text": {"body": text}}]}
    return json.dumps({"object": "whatsapp_business_account",
                       "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": value}]}]}).encode()


def post_webhook(base: str, platform: str, body: bytes, secret: str) -> dict:
    payload, content_type, headers = signed(platform, body, secret=secret)
    response = httpx.post(f"{base}/webhooks/{platform}/", content=payload,
                          headers={"Content-Type": content_type, "X-Hub-Signature-256": headers["HTTP_X_HUB_SIGNATURE_256"]})
    assert response.status_code == 200, response.text
    return response.json()


def wait_state(event_id: int, *, leave: str = "received", timeout: float = 30) -> WebhookEvent:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = WebhookEvent.objects.get(pk=event_id)
        if event.state != leave:
            return event
        time.sleep(0.1)
    raise AssertionError(f"webhook event {event_id} stayed {leave}")


def token_client(base: str, username: str) -> httpx.Client:
    answer = httpx.post(f"{base}/api/auth/token/", json={"username": username, "password": f"pass-{username}"})
    assert answer.status_code in (200, 201), answer.text
    return httpx.Client(base_url=base, headers={"Authorization": f"Token {answer.json()['token']}"})


@pytest.fixture
def admin(db):
    return make_user("root", superuser=True)


@pytest.fixture
def admin_client(admin):
    client = Client()
    client.force_login(admin)
    return client


# ---------------------------------------------------------------- who may


@pytest.mark.django_db
def test_operator_pages_and_apis_are_for_admins_only(admin):
    channel = make_channel("whatsapp", routing_key="111")
    rep = make_rep("rita", team=make_team())
    manager = make_rep("mona", role="manager", team=rep.team)
    event = WebhookEvent.objects.create(platform="whatsapp", dedup_key="k1", body=b"{}", state="failed")
    apis = [("get", "/api/operator/platforms/"), ("get", "/api/operator/reps/"), ("post", "/api/operator/reps/"),
            ("patch", f"/api/operator/reps/{rep.id}/"), ("get", "/api/operator/teams/"), ("post", "/api/operator/teams/"),
            ("get", f"/api/operator/channels/{channel.id}/webhook/"), ("post", f"/api/operator/channels/{channel.id}/verify-token/"),
            ("post", f"/api/operator/channels/{channel.id}/test-event/"), ("get", f"/api/operator/channels/{channel.id}/webhook-events/"),
            ("get", f"/api/operator/channels/{channel.id}/rep-channels/"), ("post", f"/api/operator/webhook-events/{event.id}/redrive/")]
    anonymous = Client()
    for path in PAGES + [f"/operator/channels/{channel.id}/"]:
        response = anonymous.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), path
    for method, path in apis:
        assert getattr(anonymous, method)(path, content_type="application/json").status_code in (401, 403), path
    for user in (rep.user, manager.user):
        client = Client()
        client.force_login(user)
        for path in PAGES:
            response = client.get(path)
            assert response.status_code == 403, path
            assert b"Admins only" in response.content
        for method, path in apis:
            response = getattr(client, method)(path, data={}, content_type="application/json")
            assert response.status_code == 403, (user.username, path)
            assert response.json()["detail"] == "only admins may use the operator pages"
    event.refresh_from_db()
    assert event.state == "failed"  # nothing a refused caller asked for happened
    assert not Team.objects.exclude(pk=rep.team_id).exists()


@pytest.mark.django_db
def test_an_admin_gets_each_operator_page(admin_client):
    channel = make_channel("whatsapp", routing_key="111")
    assert admin_client.get("/operator/").url == "/operator/channels/"
    for path in PAGES[1:] + [f"/operator/channels/{channel.id}/"]:
        response = admin_client.get(path)
        assert response.status_code == 200 and b'id="app"' in response.content, path
        assert b"frontend/operator.css" in response.content
    assert admin_client.get("/operator/channels/999999/").status_code == 404


# ---------------------------------------------------------------- channel webhooks (API)


@pytest.mark.django_db(transaction=True)  # the handshake reads tokens on a connection of its own
def test_webhook_info_names_the_url_and_never_echoes_a_secret(admin_client, settings):
    settings.PUBLIC_BASE_URL = "https://inbox.example.com"
    channel = make_channel("whatsapp", routing_key="111", secrets={"app_secret": "very-secret", "verify_token": "tok-123"})
    info = admin_client.get(f"/api/operator/channels/{channel.id}/webhook/").json()
    assert info["url"] == "https://inbox.example.com/webhooks/whatsapp/"
    assert info["verify_token_set"] is True and info["signing_secret_set"] is True and info["handshake"] is True
    assert "very-secret" not in json.dumps(info) and "tok-123" not in json.dumps(info)
    answer = admin_client.post(f"/api/operator/channels/{channel.id}/verify-token/").json()
    channel.refresh_from_db()
    assert channel.secrets["verify_token"] == answer["verify_token"] != "tok-123"
    assert channel.secrets["app_secret"] == "very-secret"  # the other secrets are kept
    # The new token answers Meta's subscription check at the real endpoint.
    check = admin_client.get("/webhooks/whatsapp/", {"hub.mode": "subscribe", "hub.verify_token": answer["verify_token"],
                                                     "hub.challenge": "4242"})
    assert check.status_code == 200 and check.content == b"4242"


@pytest.mark.django_db
def test_operator_endpoints_answer_bad_input_with_a_clear_4xx(admin_client):
    sms = make_channel("sms", routing_key="+14155550100", secrets={"auth_token": "t"})
    bare = make_channel("whatsapp", routing_key="222", secrets={"verify_token": "v"})
    processed = WebhookEvent.objects.create(platform="whatsapp", dedup_key="k2", body=b"{}", state="processed")
    rep = make_rep("rex")
    cases = [
        ("post", f"/api/operator/channels/{sms.id}/verify-token/", None, 400, "sms has no verify-token handshake"),
        ("post", f"/api/operator/channels/{bare.id}/test-event/", {}, 400, "has no app_secret secret"),
        ("post", f"/api/operator/channels/{sms.id}/test-event/", {"text": ""}, 400, "text"),
        ("post", f"/api/operator/channels/{sms.id}/test-event/", {"text": "x" * 5000}, 400, "4096"),
        ("post", "/api/operator/channels/999999/test-event/", {}, 404, ""),
        ("get", f"/api/operator/channels/{sms.id}/webhook-events/?limit=abc", None, 400, "limit must be a whole number"),
        ("get", f"/api/operator/channels/{sms.id}/webhook-events/?limit=0", None, 400, "limit must be a whole number"),
        ("post", f"/api/operator/webhook-events/{processed.id}/redrive/", None, 409, "is processed: only unrouted"),
        ("post", "/api/operator/webhook-events/999999/redrive/", None, 404, "no webhook event 999999"),
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
    processed.refresh_from_db()
    assert processed.state == "processed"


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


@pytest.mark.django_db(transaction=True)
def test_an_unrouted_event_is_redriven_once_the_channel_routes_it(admin_client):
    channel = make_channel("whatsapp", name="WA Main", routing_key="111", secrets={"app_secret": "wa-secret"})
    make_rep_channel(make_rep("ursula"), channel)
    # Signed with the channel's secret but for a phone_number_id no channel has (yet): stored, then unrouted.
    payload, content_type, headers = signed("whatsapp", whatsapp_payload("999", "Are you open on Sunday?"), secret="wa-secret")
    stored = admin_client.post("/webhooks/whatsapp/", payload, content_type=content_type, **headers).json()
    pipeline.drain()
    event = wait_state(stored["id"])
    assert event.state == "ignored" and event.channel_id is None
    rows = admin_client.get(f"/api/operator/channels/{channel.id}/webhook-events/").json()["results"]
    assert [(r["id"], r["unrouted"], r["redrivable"]) for r in rows] == [(event.id, True, True)]
    assert "message from Una Routed: 'Are you open on Sunday?'" in rows[0]["summary"]
    assert not Message.objects.filter(body="Are you open on Sunday?").exists()

    patched = admin_client.patch(f"/api/channels/{channel.id}/", {"routing_key": "999"}, content_type="application/json")
    assert patched.status_code == 200
    answer = admin_client.post(f"/api/operator/webhook-events/{event.id}/redrive/").json()
    assert answer["state"] == "processed" and answer["channel"] == channel.id
    assert Message.objects.get(body="Are you open on Sunday?").channel_id == channel.id
    again = admin_client.post(f"/api/operator/webhook-events/{event.id}/redrive/")
    assert again.status_code == 409  # processed now: a second re-drive would not be idempotent-safe to offer
    assert Message.objects.filter(body="Are you open on Sunday?").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_failed_event_is_redriven_and_its_error_cleared(admin_client):
    channel = make_channel("whatsapp", name="WA Faro", routing_key="289", secrets={"app_secret": "faro-secret"})
    make_rep_channel(make_rep("fabio"), channel)
    body, content_type, _ = signed("whatsapp", whatsapp_payload("289", "Is it in stock?"), secret="faro-secret")
    request = RawRequest(body=body, headers={"content-type": content_type}, url="", content_type=content_type)
    event_id = pipeline.event_store(platform="whatsapp", request=request, dedup_key="faro-1")
    # Stored, then every processing attempt hit a database outage: the sweep gave up on it.
    WebhookEvent.objects.filter(pk=event_id).update(state="failed", attempts=pipeline.MAX_ATTEMPTS,
                                                    error="OperationalError: the database system is starting up")
    rows = admin_client.get(f"/api/operator/channels/{channel.id}/webhook-events/").json()["results"]
    assert [(r["id"], r["state"], r["redrivable"]) for r in rows] == [(event_id, "failed", True)]
    assert rows[0]["error"].startswith("OperationalError")
    answer = admin_client.post(f"/api/operator/webhook-events/{event_id}/redrive/").json()
    assert answer == {"id": event_id, "state": "processed", "error": "", "channel": channel.id}
    assert WebhookEvent.objects.get(pk=event_id).attempts == 1
    assert Message.objects.get(body="Is it in stock?").channel_id == channel.id


# ---------------------------------------------------------------- the test event on a live server


@pytest.fixture(scope="module")
def public_daphne(django_db_setup):
    """A daphne behind a (pretend) TLS proxy: PUBLIC_BASE_URL names the public origin, so a URL-signed
    sample (Twilio's) must be signed for that URL while it is posted to loopback."""
    port = _free_port()
    log = open(ROOT / "var" / "daphne-operator.log", "w")
    env = {**_test_env(), "PUBLIC_BASE_URL": "https://inbox.example.com"}
    proc = subprocess.Popen([str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
                            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_port(port, proc, "daphne")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind, routing_key, secrets", [
    ("sms", "+14155550100", {"auth_token": "twilio-token"}),
    ("email", "sales@inbox.example.com", {"signing_key": "mailgun-key"}),
    ("service", "", {"secret": "svc-secret"}),
    ("messenger", "107869478432619", {"app_secret": "meta-secret"}),
])
def test_the_test_event_is_signed_like_the_platform_and_processed(public_daphne, admin, kind, routing_key, secrets):
    channel = make_channel(kind, name=f"Test {kind}", routing_key=routing_key or f"Test {kind}", secrets=secrets)
    make_rep_channel(make_rep(f"tess{kind}"), channel)
    with token_client(public_daphne, "root") as client:
        answer = client.post(f"/api/operator/channels/{channel.id}/test-event/", json={"text": f"hello via {kind}"}).json()
        assert answer["ok"] is True, answer
        assert answer["signed_url"] == f"https://inbox.example.com/webhooks/{kind}/"
        event = wait_state(answer["event_id"])
        assert event.state == "processed" and event.channel_id == channel.id, event.error
        # An e-mail's message starts with its subject.
        assert Message.objects.get(body__endswith=f"hello via {kind}").channel_id == channel.id
        rows = client.get(f"/api/operator/channels/{channel.id}/webhook-events/").json()["results"]
        assert rows[0]["id"] == event.id and rows[0]["state"] == "processed" and rows[0]["bound"] is True
        # The page's list shows the message as the adapter parsed it, never the raw body.
        assert rows[0]["summary"].endswith(f"'hello via {kind}'")


# ---------------------------------------------------------------- demo_inbound


@pytest.mark.django_db(transaction=True)
def test_demo_inbound_makes_a_demo_contact_write_in(asgi_server, settings, capsys):
    settings.DEBUG = True
    call_command("seed_demo")
    for kind in ("whatsapp", "sms", "email", "service", "instagram"):
        call_command("demo_inbound", kind, f"Hello from {kind}", url=asgi_server)
        out = capsys.readouterr().out
        assert f"POST {asgi_server}/webhooks/{kind}/ → 200: accepted and stored as webhook event" in out, out
        assert "processed: the message is in the inbox" in out, out
        message = Message.objects.select_related("conversation__contact").get(body__endswith=f"Hello from {kind}")
        assert message.channel.name == f"Demo {kind}" and message.direction == "in"
        if kind in ("whatsapp", "email", "service"):  # the platforms whose payloads carry a name
            assert message.conversation.contact.name == "Demo Contact"


@pytest.mark.django_db
def test_demo_inbound_says_what_is_wrong(settings):
    with pytest.raises(CommandError, match="unknown platform 'telegram': use one of whatsapp"):
        call_command("demo_inbound", "telegram", "Hi")
    with pytest.raises(CommandError, match="there is no channel named 'Demo whatsapp': run `manage.py seed_demo`"):
        call_command("demo_inbound", "whatsapp", "Hi")
    make_channel("sms", name="Demo whatsapp", routing_key="+14155550100", secrets={"auth_token": "t"})
    with pytest.raises(CommandError, match="is a sms channel, not whatsapp"):
        call_command("demo_inbound", "whatsapp", "Hi")
    make_channel("whatsapp", name="Bare", routing_key="1", secrets={"verify_token": "v"})
    with pytest.raises(CommandError, match="has no app_secret secret"):
        call_command("demo_inbound", "whatsapp", "Hi", channel="Bare")
    make_channel("whatsapp", name="Ready", routing_key="2", secrets={"app_secret": "s"})
    with pytest.raises(CommandError, match="text is empty"):
        call_command("demo_inbound", "whatsapp", "  ", channel="Ready")
    with pytest.raises(CommandError, match="must start with http"):
        call_command("demo_inbound", "whatsapp", "Hi", channel="Ready", url="ftp://x")
    port = _free_port()  # nothing listens there
    with pytest.raises(CommandError, match="Is the app running"):
        call_command("demo_inbound", "whatsapp", "Hi", channel="Ready", url=f"http://127.0.0.1:{port}")


# ---------------------------------------------------------------- in the browser


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_admin_creates_a_channel_copies_its_url_and_sees_the_test_event(browser, asgi_server, admin):
    rep = make_rep("carla", team=make_team("Closers"))
    context, page, errors = admin_page(browser, asgi_server, "/operator/channels/")
    page.get_by_label("Name", exact=True).fill("WhatsApp Lisbon")
    page.get_by_label("Platform").select_option("whatsapp")
    page.get_by_label("Routing key").fill("351900000001")
    page.get_by_label("Team", exact=True).select_option(label="Closers")
    page.get_by_label("app_secret").fill("lisbon-app-secret")
    assert_screen(page, context="the channel list with the new-channel form")
    page.screenshot(path=str(SCREENSHOTS / "operator-channels.png"))
    page.get_by_role("button", name="Create channel").click()

    page.wait_for_url(f"{asgi_server}/operator/channels/*/")
    channel = Channel.objects.get(name="WhatsApp Lisbon")
    assert channel.secrets["app_secret"] == "lisbon-app-secret" and channel.team.name == "Closers"
    assert "lisbon-app-secret" not in page.content()  # write-only: never echoed
    make_rep_channel(rep, channel)  # someone to route the test message to

    url = page.get_by_role("textbox", name="Webhook URL")
    url.wait_for()
    assert url.input_value() == f"{asgi_server}/webhooks/whatsapp/"
    page.get_by_role("button", name="Copy the Webhook URL").click()
    page.get_by_text("Copied").wait_for()
    assert page.evaluate("() => navigator.clipboard.readText()") == f"{asgi_server}/webhooks/whatsapp/"

    page.get_by_label("Message").fill("Hello from the channel page")
    page.get_by_role("button", name="Send test event").click()
    result = page.locator("#test-result")
    result.wait_for()
    assert result.inner_text().startswith("Delivered: accepted and stored as webhook event"), result.inner_text()
    row = page.locator("#events tr[data-state=processed]", has_text="Hello from the channel page")
    row.wait_for()
    event = WebhookEvent.objects.get(channel=channel)
    assert event.state == "processed" and row.get_attribute("data-event") == str(event.id)
    assert Message.objects.get(body="Hello from the channel page").conversation.rep_id == rep.id

    page.get_by_label("Sandbox for Carla").uncheck()
    page.get_by_text("Carla: sandbox off").wait_for()
    assert SalesRepChannel.objects.get(rep=rep, channel=channel).sandbox is False
    assert_screen(page, context="a channel's page after a test event")
    page.screenshot(path=str(SCREENSHOTS / "operator-channel.png"), full_page=True)
    assert errors == []
    context.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_admin_fixes_a_routing_key_and_redrives_the_unrouted_event(browser, asgi_server, admin):
    channel = make_channel("whatsapp", name="WA Porto", routing_key="111", secrets={"app_secret": "porto-secret"})
    make_rep_channel(make_rep("pedro"), channel)
    stored = post_webhook(asgi_server, "whatsapp", whatsapp_payload("351222", "Still there?"), "porto-secret")
    assert wait_state(stored["id"]).state == "ignored"
    context, page, errors = admin_page(browser, asgi_server, f"/operator/channels/{channel.id}/", width=390, height=844)
    page.locator("#events tr[data-state=unrouted]").wait_for()
    # Readable on a phone: nothing wider than the screen but the tables' own scroll boxes.
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.get_by_label("Routing key").fill("351222")
    page.get_by_role("button", name="Save settings").click()
    page.get_by_text("Saved.").wait_for()
    assert_screen(page, context="a channel's page with an unrouted event")
    page.screenshot(path=str(SCREENSHOTS / "operator-channel-phone.png"), full_page=True)
    page.get_by_role("button", name=f"Re-drive event {stored['id']}").click()
    page.get_by_text(f"Event {stored['id']} re-driven: now processed.").wait_for()
    page.locator(f"#events tr[data-event='{stored['id']}'][data-state=processed]").wait_for()
    assert Message.objects.get(body="Still there?").channel_id == channel.id
    assert errors == []
    context.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_admin_adds_a_rep_changes_their_team_and_deactivates_them(browser, asgi_server, admin):
    make_team("Closers")
    make_rep("olga", team=Team.objects.get(name="Closers"))
    context, page, errors = admin_page(browser, asgi_server, "/operator/people/")
    page.get_by_label("New team").fill("Hunters")
    page.get_by_role("button", name="Create team").click()
    page.get_by_text("Team Hunters created.").wait_for()
    page.get_by_label("Username").fill("nora")
    page.get_by_label("Full name").fill("Nora North")
    page.locator("#rep-team").select_option(label="Closers")
    page.get_by_role("button", name="Add rep").click()
    password = page.get_by_role("textbox", name="Initial password (shown once)")
    password.wait_for()
    rep = SalesRep.objects.select_related("user", "team").get(user__username="nora")
    assert rep.team.name == "Closers" and rep.user.check_password(password.input_value())

    page.get_by_label("Team of Nora North").select_option(label="Hunters")
    page.get_by_text("Nora North: team Hunters.").wait_for()
    page.get_by_label("Role of Nora North").select_option("manager")
    page.get_by_text("Nora North: role manager.").wait_for()
    rep.refresh_from_db()
    assert rep.team.name == "Hunters" and rep.role == "manager"
    # By keyboard: the button takes focus and Enter presses it.
    page.get_by_role("button", name="Deactivate Nora North").focus()
    page.keyboard.press("Enter")
    page.get_by_text("Nora North: deactivated").wait_for()
    rep.user.refresh_from_db()
    assert rep.user.is_active is False
    assert_screen(page, context="reps and teams")
    page.screenshot(path=str(SCREENSHOTS / "operator-people.png"), full_page=True)
    assert errors == []
    context.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_admin_edits_a_template_and_previews_it(browser, asgi_server, admin):
    Template.objects.create(name="welcome", body="Hi {name}!", translations={"fr": "Salut {name} !"})
    context, page, errors = admin_page(browser, asgi_server, "/operator/templates/")
    page.get_by_role("button", name="New template").click()
    page.get_by_label("Name", exact=True).fill("offer_reminder")
    page.get_by_label("Text", exact=True).fill("Hello {name}, your offer ends {day}.")
    page.get_by_role("button", name="Create template").click()
    page.get_by_text("Saved offer_reminder.").wait_for()
    assert Template.objects.get(name="offer_reminder").body == "Hello {name}, your offer ends {day}."
    preview = page.locator("#preview-text")
    preview.filter(has_text="Fill in: day, name").wait_for()
    page.locator("#var-name").fill("Ada")
    page.locator("#var-day").fill("Friday")
    preview.filter(has_text="Hello Ada, your offer ends Friday.").wait_for()

    page.get_by_role("button", name="welcome").click()
    page.get_by_label("Text", exact=True).fill("Hi {name}, welcome!")
    page.get_by_role("button", name="Save template").click()
    page.get_by_text("Saved welcome.").wait_for()
    assert Template.objects.get(name="welcome").body == "Hi {name}, welcome!"
    page.locator("#var-name").fill("Bea")
    page.get_by_label("Language", exact=True).select_option("fr")
    preview.filter(has_text="Salut Bea !").wait_for()
    assert_screen(page, context="templates with a preview")
    page.screenshot(path=str(SCREENSHOTS / "operator-templates.png"), full_page=True)
    assert errors == []
    context.close()
