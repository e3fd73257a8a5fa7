"""The inbox in a real browser (Playwright driving Debian's Chromium) against the running daphne."""
import json
import time
from pathlib import Path

import httpx
import pytest
from django.utils import timezone

from campaigns.tests.world import make_campaign, make_contact, start, utc, wall
from frontend.tests.pages import login
from inbox.models import Contact, Conversation, Message
from inbox.tests.factories import make_channel, make_conversation, make_rep, make_rep_channel, make_team
from webhooks.tests.signing import SECRET, signed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE_ID = "555000111"


@pytest.fixture
def team():
    t = make_team("Closers")
    alice, bob = make_rep("alice", team=t), make_rep("bob", team=t)
    manager = make_rep("maya", team=t, role="manager")
    # The team's line: its unassigned conversations (of contacts of no team yet) are the team's queue.
    channel = make_channel("whatsapp", name="WhatsApp Sales", routing_key=PHONE_ID, secrets={"app_secret": SECRET}, team=t)
    for rep in (alice, bob, manager):
        make_rep_channel(rep, channel, capacity=200, warmup_start=40, warmup_step=20)
    conv_a = make_conversation(alice, channel, external_id="4915100000001", name="Ada Lovelace", phone="+4915100000001",
                               last_inbound_at=timezone.now())
    conv_b = make_conversation(bob, channel, external_id="4915100000002", name="Bea Bob", phone="+4915100000002")
    # Ada wrote a moment ago on this line: WhatsApp's 24-hour window is open, free text allowed.
    Conversation.objects.filter(pk=conv_a.pk).update(last_inbound_at=timezone.now())
    conv_a.refresh_from_db()
    return {"alice": alice, "bob": bob, "manager": manager, "channel": channel, "conv_a": conv_a, "conv_b": conv_b}


_counter = iter(range(10**6))


def webhook(base, *, wa_id, text="", status=None, message_id=""):
    value = {"messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550001111", "phone_number_id": PHONE_ID}}
    now = str(int(time.time()))
    if status:
        value["statuses"] = [{"id": message_id, "status": status, "timestamp": now, "recipient_id": wa_id}]
    else:
        value["contacts"] = [{"profile": {"name": "Ada Lovelace"}, "wa_id": wa_id}]
        value["messages"] = [{"from": wa_id, "id": f"wamid.{next(_counter)}.{time.monotonic_ns()}", "timestamp": now,
                              "type": "text", "text": {"body": text}}]
    payload = {"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": value}]}]}
    body, content_type, headers = signed("whatsapp", json.dumps(payload).encode())
    response = httpx.post(f"{base}/webhooks/whatsapp/", content=body,
                          headers={"Content-Type": content_type, "X-Hub-Signature-256": headers["HTTP_X_HUB_SIGNATURE_256"]})
    assert response.status_code == 200, response.text


def test_live_message_reaches_only_its_rep_and_ticks_advance(browser, asgi_server, team, celery_worker_proc):
    ctx_a, page_a = login(browser, asgi_server, "alice")
    ctx_b, page_b = login(browser, asgi_server, "bob")
    webhook(asgi_server, wa_id="4915100000001", text="Do you ship to Lisbon?")
    page_a.get_by_text("Do you ship to Lisbon?").wait_for(timeout=1000)  # live, within a second
    page_a.wait_for_timeout(300)
    assert page_b.get_by_text("Do you ship to Lisbon?").count() == 0

    page_a.get_by_role("button", name="Conversation with Ada Lovelace").click()
    page_a.get_by_label("Message").fill("Yes, in 3 days.")
    page_a.keyboard.press("Enter")
    bubble = page_a.locator(".bubble.out", has_text="Yes, in 3 days.")
    bubble.wait_for()
    page_a.wait_for_function("() => document.querySelector('.bubble.out[data-status=sent]') !== null", timeout=20000)
    sent = Message.objects.get(direction="out", body="Yes, in 3 days.")
    for status in ("delivered", "read"):
        webhook(asgi_server, wa_id="4915100000001", status=status, message_id=sent.external_id)
        page_a.wait_for_function(f"() => document.querySelector('.bubble.out[data-status={status}]') !== null", timeout=5000)
    assert page_a.locator(".bubble.out .tick").inner_text() == "✓✓"
    page_a.screenshot(path=str(SCREENSHOTS / "inbox.png"))
    ctx_a.close()
    ctx_b.close()


def test_after_the_socket_is_cut_missed_messages_show_in_order(browser, asgi_server, team):
    context, page = login(browser, asgi_server, "alice")
    page.get_by_role("button", name="Conversation with Ada Lovelace").click()
    page.locator("#thread").wait_for()
    context.set_offline(True)
    page.evaluate("() => window.sb.socket.drop()")
    page.locator("#offline").wait_for(state="visible")
    for i in range(3):
        webhook(asgi_server, wa_id="4915100000001", text=f"while offline {i}")
    page.wait_for_timeout(500)
    assert page.locator(".bubble .body", has_text="while offline 0").count() == 0
    context.set_offline(False)
    page.evaluate("() => window.sb.socket.drop()")  # reconnect now rather than after the backoff
    page.locator("#offline").wait_for(state="hidden", timeout=15000)
    page.locator(".bubble.in .body", has_text="while offline 2").wait_for(timeout=5000)
    bodies = page.locator(".bubble.in .body").all_inner_texts()
    assert [b for b in bodies if b.startswith("while offline")] == ["while offline 0", "while offline 1", "while offline 2"]
    context.close()


def test_html_and_script_in_a_message_show_as_text_and_never_run(browser, asgi_server, team):
    context, page = login(browser, asgi_server, "alice")
    page.get_by_role("button", name="Conversation with Ada Lovelace").click()
    payload = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script><b>bold</b>'
    webhook(asgi_server, wa_id="4915100000001", text=payload)
    page.locator(".bubble.in .body", has_text="<script>").wait_for(timeout=5000)
    assert page.locator(".bubble.in .body").last.inner_text() == payload
    assert page.locator(".bubble img, .bubble script, .bubble b").count() == 0
    assert page.evaluate("() => window.__xss") is None
    # the list's preview follows on the conversation's own event, after the message's
    page.locator(".conversation .preview", has_text="<img src=x").first.wait_for(timeout=10000)
    assert page.locator(".conversation .preview", has_text="<img src=x").first.inner_text().startswith("<img")
    context.close()


def test_manager_dashboard_shows_the_team_and_the_queue(browser, asgi_server, team):
    from inbox.models import Conversation

    Conversation.objects.filter(pk=team["conv_b"].pk).update(rep=None)
    # A week of traffic so the charts have something to draw.
    for days_ago, count in ((4, 3), (3, 6), (2, 4), (1, 8), (0, 5)):
        for i in range(count):
            m = Message.objects.create(conversation=team["conv_a"], channel=team["channel"], direction="in" if i % 2 else "out",
                                       status="received" if i % 2 else "read", body=f"m{days_ago}-{i}")
            Message.objects.filter(pk=m.pk).update(created_at=timezone.now() - timezone.timedelta(days=days_ago))
    c = make_conversation(None, team["channel"], external_id="4915100000009", name="Carl Queue")
    assert c.rep is None
    context, page = login(browser, asgi_server, "maya")
    page.goto("/dashboard/")
    page.locator("#reps tr").first.wait_for()
    assert page.locator("#reps tr").count() == 3
    page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)
    select = page.get_by_label("Assign Bea Bob")
    select.select_option(label="Alice")
    page.get_by_label("Assign Bea Bob").wait_for(state="detached", timeout=5000)
    assert Conversation.objects.get(pk=team["conv_b"].pk).rep_id == team["alice"].id
    context.close()


def test_a_started_campaign_shows_in_the_open_inbox_without_a_reload(browser, asgi_server, team):
    Contact.objects.filter(pk=team["conv_a"].contact_id).update(tags=["lisbon"])
    make_contact(name="Zoe Zed", owner=team["alice"], tags=["lisbon"])  # no conversation yet: the plan opens one
    campaign = make_campaign(team["channel"], start=wall(2030, 6, 1, 9), end=wall(2030, 6, 3, 17), text="Hi {first_name}",
                             audience={"tags_any": ["lisbon"]})
    ctx_a, page_a = login(browser, asgi_server, "alice")
    ctx_b, page_b = login(browser, asgi_server, "bob")
    page_a.get_by_role("button", name="Conversation with Ada Lovelace").click()
    page_a.locator("#thread-title", has_text="Ada Lovelace").wait_for()
    start(campaign, utc(2030, 5, 31, 12))
    # The new conversation joins the list, and the open thread fetches the message planned in it.
    page_a.get_by_role("button", name="Conversation with Zoe Zed").wait_for(timeout=5000)
    page_a.locator(".bubble.out[data-status=queued]", has_text="Hi Ada").wait_for(timeout=5000)
    page_b.wait_for_timeout(500)
    assert page_b.get_by_role("button", name="Conversation with Zoe Zed").count() == 0
    ctx_a.close()
    ctx_b.close()


def test_sending_again_after_a_lost_answer_is_one_message(browser, asgi_server, team):
    """The compose reaches the server but its answer is lost on the way back; the rep clicks Send
    again: the browser reuses the message's Idempotency-Key, so the server stores one message."""
    ctx, page = login(browser, asgi_server, "alice")
    page.get_by_role("button", name="Conversation with Ada Lovelace").click()
    keys, lost = [], []

    def drop_the_first_answer(route):
        keys.append(route.request.headers.get("idempotency-key"))
        response = route.fetch()  # the server does the work…
        if not lost:
            lost.append(response.status)
            route.abort("connectionreset")  # …and the answer never reaches the page
        else:
            route.fulfill(response=response)

    page.route("**/api/conversations/*/messages/", lambda route: drop_the_first_answer(route)
               if route.request.method == "POST" else route.continue_())
    page.get_by_label("Message").fill("Delivery on Tuesday works.")
    page.get_by_role("button", name="Send").click()
    page.wait_for_function("() => document.querySelector('#composer-error').textContent.length > 0", timeout=5000)
    page.get_by_role("button", name="Send").click()
    page.locator(".bubble.out", has_text="Delivery on Tuesday works.").wait_for(timeout=5000)
    assert lost == [201] and len(keys) == 2 and keys[0] == keys[1] and keys[0]
    assert Message.objects.filter(direction="out", body="Delivery on Tuesday works.").count() == 1
    assert page.locator(".bubble.out", has_text="Delivery on Tuesday works.").count() == 1
    ctx.close()
