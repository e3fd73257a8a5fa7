"""The operator pages (admins) in the browser: channels with their webhooks (create, copy the URL, a
signed test event, re-drive), reps and teams, templates. Playwright drives Debian's Chromium against
the real daphne; each screen is checked with axe-core at 1280x720 and 390 px and photographed for
the README. The APIs behind them are tested in salesreps/ and webhooks/tests/test_operator_api.py."""
from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from django.test import Client

from frontend.tests.pages import assert_accessible
from inbox.models import Message, Template
from inbox.tests.factories import make_channel, make_rep, make_rep_channel, make_team
from salesreps.models import Channel, SalesRep, SalesRepChannel, Team
from webhooks.models import WebhookEvent
from webhooks.tests.events import wait_state, whatsapp_payload
from webhooks.tests.signing import signed

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PAGES = ["/operator/", "/operator/channels/", "/operator/people/", "/operator/templates/"]


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


def post_webhook(base: str, platform: str, body: bytes, secret: str) -> dict:
    payload, content_type, headers = signed(platform, body, secret=secret)
    response = httpx.post(f"{base}/webhooks/{platform}/", content=payload,
                          headers={"Content-Type": content_type, "X-Hub-Signature-256": headers["HTTP_X_HUB_SIGNATURE_256"]})
    assert response.status_code == 200, response.text
    return response.json()


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
