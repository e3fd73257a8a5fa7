"""The rep's inbox in a real browser (Playwright driving Debian's Chromium against daphne): each
screen driven as a rep would, inbound traffic posted as the platforms would (signed webhooks), and
an axe-core check on every screen."""
import io
import json
import struct
import time
import wave
import zlib
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.utils import timezone

from campaigns.tests.world import make_campaign, start, utc, wall
from frontend.tests.pages import assert_accessible, login
from inbox.models import Contact, Conversation, Message, Template
from inbox.tests.factories import make_channel, make_conversation, make_rep, make_rep_channel, make_team
from inbox.tests.fake_provider import FakeProvider
from inbox.tests.test_api_rep_inbox import PNG, FakeGraph
from webhooks.tests.signing import SECRET, signed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CLIP = (Path(__file__).with_name("media") / "clip.webm").read_bytes()  # 0.6 s of VP8, recorded by Chromium's MediaRecorder
PHONE_ID = "555000222"
ADA = "4915100000001"
_ids = iter(range(10**6))


@pytest.fixture
def line():
    """Alice's team line on WhatsApp, and its channel service "svc" (another network, same person)."""
    team = make_team("Closers")
    alice = make_rep("alice", team=team)
    make_rep("maya", team=team, role="manager")
    whatsapp = make_channel("whatsapp", name="WhatsApp Sales", routing_key=PHONE_ID, team=team,
                            secrets={"app_secret": SECRET, "access_token": "wa-token"})
    service = make_channel("service", name="svc", team=team, secrets={"secret": SECRET})
    make_rep_channel(alice, whatsapp, capacity=200, warmup_start=40, warmup_step=20)
    return {"alice": alice, "whatsapp": whatsapp, "service": service}


def whatsapp(base, *, wa_id=ADA, name="Ada Lovelace", text="", at=None, **content):
    """A WhatsApp Cloud API message webhook, signed with the app secret; `content` replaces the text
    (image={...}, location={...})."""
    kind, body = next(iter(content.items())) if content else ("text", {"body": text})
    message = {"from": wa_id, "id": f"wamid.{next(_ids)}.{time.monotonic_ns()}", "timestamp": str(int(at or time.time())),
               "type": kind, kind: body}
    value = {"messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550002222", "phone_number_id": PHONE_ID},
             "contacts": [{"profile": {"name": name}, "wa_id": wa_id}], "messages": [message]}
    payload = {"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": value}]}]}
    body, content_type, headers = signed("whatsapp", json.dumps(payload).encode())
    response = httpx.post(f"{base}/webhooks/whatsapp/", content=body,
                          headers={"Content-Type": content_type, "X-Hub-Signature-256": headers["HTTP_X_HUB_SIGNATURE_256"]})
    assert response.status_code == 200, response.text


def service(base, *, text, contact_id="u-42", name="Ada Lovelace", phone="+" + ADA):
    """A message from the channel service "svc", signed as that service signs (platforms/service.py)."""
    event = {"id": f"evt-{next(_ids)}-{time.monotonic_ns()}", "type": "message", "timestamp": int(time.time()),
             "message_id": f"m-{next(_ids)}-{time.monotonic_ns()}", "contact_id": contact_id, "contact_name": name,
             "contact_phone": phone, "text": text}
    body, content_type, headers = signed("service", json.dumps({"events": [event]}).encode())
    response = httpx.post(f"{base}/webhooks/service/", content=body, headers={
        "Content-Type": content_type, "X-Switchboard-Signature": headers["HTTP_X_SWITCHBOARD_SIGNATURE"],
        "X-Switchboard-Channel": headers["HTTP_X_SWITCHBOARD_CHANNEL"]})
    assert response.status_code == 200, response.text


def tone_wav(seconds: float = 2.0) -> bytes:
    """A short WAV a browser's <audio> decodes: a voice note as a platform would host it."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x10\x00\xf0" * int(8000 * seconds / 2))
    return out.getvalue()


def striped_png(width: int = 160, height: int = 90) -> bytes:
    """A photo-sized PNG (stripes), so the screenshot shows the image as a rep would see it."""
    rows = b"".join(b"\x00" + b"".join(bytes((30, 64, 175) if (x // 20 + y // 15) % 2 else (245, 158, 11)) for x in range(width))
                    for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def conversation_of(name="Ada Lovelace", kind="whatsapp") -> Conversation:
    """The conversation the webhook opened (processing finishes just after the 200)."""
    deadline = time.monotonic() + 10
    while True:
        found = Conversation.objects.filter(contact__name=name, channel__kind=kind).first()
        if found is not None or time.monotonic() > deadline:
            assert found is not None, f"no {kind} conversation with {name}"
            return found
        time.sleep(0.05)


def test_rep_resolves_snoozes_reopens_and_marks_unread(browser, asgi_server, line):
    context, page = login(browser, asgi_server, "alice")
    whatsapp(asgi_server, text="Is the spring offer still on?")
    item = page.get_by_role("button", name="Conversation with Ada Lovelace")
    item.wait_for(timeout=5000)
    page.wait_for_function("() => document.title.startsWith('(1) ')", timeout=5000)  # the title counts unread
    assert page.locator(".conversation .badge").inner_text() == "1"
    assert_accessible(page, context="rep inbox: the list")
    item.click()
    page.locator("#thread-title", has_text="Ada Lovelace").wait_for()
    page.wait_for_function("() => document.title === 'Inbox · Switchboard'", timeout=5000)  # opened: read
    assert_accessible(page, context="rep inbox: a conversation")

    page.get_by_role("button", name="Resolve").click()
    page.locator("#thread-status", has_text="Resolved").wait_for(timeout=5000)
    assert conversation_of().status == "resolved"
    page.get_by_role("button", name="Reopen").click()
    page.locator("#thread-status", has_text="Open").wait_for(timeout=5000)
    assert conversation_of().status == "open"

    page.locator(".snooze summary").click()
    assert_accessible(page, context="rep inbox: the snooze menu")
    page.get_by_role("button", name="Tomorrow 09:00").click()
    page.locator("#thread-status", has_text="Snoozed until").wait_for(timeout=5000)
    snoozed = conversation_of()
    assert snoozed.status == "snoozed" and snoozed.snoozed_until > timezone.now() + timedelta(hours=8)
    page.get_by_label("Status").select_option("snoozed")
    page.locator(".conversation .chip-snoozed").wait_for(timeout=5000)
    page.get_by_role("button", name="Reopen").click()
    page.locator("#thread-status", has_text="Open").wait_for(timeout=5000)
    page.get_by_label("Status").select_option("")

    page.locator(".snooze summary").click()  # a time of the rep's choosing
    page.get_by_label("Until", exact=True).fill((timezone.localtime() + timedelta(days=3)).strftime("%Y-%m-%dT10:30"))
    page.get_by_role("button", name="Snooze until then").click()
    page.locator("#thread-status", has_text="Snoozed until").wait_for(timeout=5000)
    assert conversation_of().snoozed_until > timezone.now() + timedelta(days=2)
    page.get_by_role("button", name="Reopen").click()
    page.locator("#thread-status", has_text="Open").wait_for(timeout=5000)

    page.get_by_role("button", name="Mark unread").click()
    page.locator(".conversation .badge").wait_for(timeout=5000)
    page.wait_for_function("() => document.title.startsWith('(1) ')", timeout=5000)
    assert conversation_of().unread_count == 1
    assert page.locator("#thread-title").count() == 0  # left for later: the thread closed
    context.close()


def test_template_variables_preview_and_the_closed_window_blocking_free_text(browser, asgi_server, line):
    Template.objects.create(name="offer_reminder", body="Hello {name}, your offer ends {day}.", whatsapp_name="offer_reminder")
    context, page = login(browser, asgi_server, "alice")
    whatsapp(asgi_server, text="Send me the details", at=time.time() - 30 * 3600)  # 30 hours ago: the window closed
    page.get_by_role("button", name="Conversation with Ada Lovelace").click()
    page.locator("#window-hint").wait_for(timeout=5000)
    assert "24-hour window is closed" in page.locator("#window-hint").inner_text()
    assert page.get_by_label("Message").is_disabled()
    assert page.get_by_role("button", name="Send").is_disabled()
    # Today's binding limit is said before sending: the warm-up allows 40 of the cap of 200.
    assert "(the warm-up allowance binds)" in page.locator(".send-notes [data-note=capacity]").inner_text()
    assert_accessible(page, context="rep inbox: the closed 24-hour window")
    page.screenshot(path=str(SCREENSHOTS / "rep-inbox-window-closed.png"))

    page.get_by_role("button", name="Use offer_reminder").click()  # the template the closed window suggests
    assert page.get_by_label("Template").input_value() == str(Template.objects.get(name="offer_reminder").id)
    page.locator("#preview", has_text="Fill in: day, name").wait_for(timeout=5000)
    assert page.get_by_role("button", name="Send").is_disabled()  # blanks left
    page.get_by_label("name", exact=True).fill("Ada")
    page.get_by_label("day", exact=True).fill("Friday")
    page.locator("#preview", has_text="Hello Ada, your offer ends Friday.").wait_for(timeout=5000)
    assert_accessible(page, context="rep inbox: a template's form and preview")
    page.screenshot(path=str(SCREENSHOTS / "rep-inbox-template.png"))
    page.get_by_role("button", name="Send").click()
    page.locator(".bubble.out", has_text="Hello Ada, your offer ends Friday.").wait_for(timeout=5000)
    sent = Message.objects.get(direction="out")
    assert sent.template.name == "offer_reminder" and sent.variables == {"name": "Ada", "day": "Friday"}
    assert sent.idempotency_key  # one key per composed message

    # The person writes again: the server's window opens, live, and free text is back.
    page.get_by_label("Template").select_option("")
    whatsapp(asgi_server, text="Thanks, tell me more")
    page.locator("#window-hint").wait_for(state="detached", timeout=5000)
    page.locator(".send-notes [data-note=window]", has_text="window is open").wait_for(timeout=5000)
    page.get_by_label("Message").fill("Here are the details.")
    page.get_by_role("button", name="Send").click()
    page.locator(".bubble.out", has_text="Here are the details.").wait_for(timeout=5000)
    second = Message.objects.filter(direction="out").exclude(pk=sent.pk).get()
    assert second.body == "Here are the details." and second.idempotency_key not in ("", sent.idempotency_key)
    context.close()


def test_a_failed_message_shows_the_providers_reason_and_retry_sends_it(browser, asgi_server, line, celery_worker_proc):
    with FakeProvider(status=400, error={"code": "21211", "message": "The 'To' number is not a valid phone number"}) as provider:
        line["service"].internal_url = provider.url
        line["service"].save()
        make_rep_channel(line["alice"], line["service"], sandbox=False)
        context, page = login(browser, asgi_server, "alice")
        service(asgi_server, text="Can you call me back?")
        page.get_by_role("button", name="Conversation with Ada Lovelace").click()
        page.get_by_label("Message").fill("Calling you at 3 pm.")
        page.keyboard.press("Enter")
        failed = page.locator(".bubble.out[data-status=failed]")
        failed.wait_for(timeout=20000)
        assert "not a valid phone number" in failed.locator(".reason").inner_text()
        assert failed.locator(".state").inner_text() == "Failed"
        assert_accessible(page, context="rep inbox: a failed message")
        provider.status = 200
        failed.get_by_role("button", name="Retry").click()
        page.locator(".bubble.out[data-status=sent]", has_text="Calling you at 3 pm.").wait_for(timeout=20000)
        assert page.locator(".bubble.out .retry").count() == 0
        message = Message.objects.get(direction="out")
        assert message.status == "sent" and message.error_title == ""
        assert sum(provider.requests.values()) == 2
        context.close()


def test_a_send_the_platform_may_have_taken_shows_delivery_unknown_and_is_not_resent(browser, asgi_server, line, celery_worker_proc):
    from salesreps.models import SalesRepChannel

    with FakeProvider(status=502, error={"message": "Bad Gateway"}) as graph:  # a gateway's 502, no provider error code: it may have gone through
        line["whatsapp"].config = {"api_base_url": graph.url, "phone_number_id": PHONE_ID}
        line["whatsapp"].save()
        SalesRepChannel.objects.filter(rep=line["alice"], channel=line["whatsapp"]).update(sandbox=False)
        context, page = login(browser, asgi_server, "alice")
        whatsapp(asgi_server, text="Did you get my order?")
        page.get_by_role("button", name="Conversation with Ada Lovelace").click()
        page.get_by_label("Message").fill("Yes, it ships today.")
        page.keyboard.press("Enter")
        unknown = page.locator(".bubble.out .state", has_text="Delivery unknown")
        unknown.wait_for(timeout=20000)
        bubble = page.locator(".bubble.out", has_text="Yes, it ships today.")
        assert "waiting for the platform's status" in bubble.locator(".reason").inner_text()
        assert bubble.locator(".retry").count() == 0  # never resent blind: it waits for a status
        assert_accessible(page, context="rep inbox: delivery unknown")
        assert sum(graph.requests.values()) == 1
        message = Message.objects.get(direction="out")
        assert (message.status, message.defer_code) == ("sending", "delivery_unknown")
        context.close()


def test_the_contact_panel_shows_one_person_on_two_channels(browser, asgi_server, line):
    make_rep_channel(line["alice"], line["service"])
    context, page = login(browser, asgi_server, "alice")
    whatsapp(asgi_server, text="Hello from WhatsApp")
    service(asgi_server, text="And hello from the other app")
    page.get_by_role("button", name="Conversation with Ada Lovelace on svc").wait_for(timeout=5000)
    [contact] = Contact.objects.filter(name="Ada Lovelace")  # one person, found by the phone number
    Contact.objects.filter(pk=contact.pk).update(timezone="Europe/Lisbon", lead_score=72, tags=["lisbon", "vip"],
                                                 owner=line["alice"], quiet_start="22:00", quiet_end="08:00")
    campaign = make_campaign(line["whatsapp"], name="Spring offer", start=wall(2030, 6, 1, 9), end=wall(2030, 6, 3, 17),
                             audience={"tags_any": ["lisbon"]})
    start(campaign, utc(2030, 5, 31, 12))

    page.get_by_role("button", name="Conversation with Ada Lovelace on WhatsApp Sales").click()
    page.locator("#thread-title", has_text="Ada Lovelace").wait_for()
    page.get_by_role("button", name="Contact details").click()
    panel = page.locator("#contact-panel")
    panel.locator(".identities li[data-channel=service]").wait_for(timeout=5000)
    assert panel.locator(".identities li[data-channel=whatsapp]").inner_text().count(ADA) == 1
    assert "u-42" in panel.locator(".identities li[data-channel=service]").inner_text()
    assert panel.locator(".lead-score").inner_text() == "72"
    assert panel.locator(".owner").inner_text() == "Alice"
    assert "Europe/Lisbon" in panel.inner_text() and "Not opted out" in panel.inner_text()
    assert panel.locator(".tags li").all_inner_texts() == ["lisbon", "vip"]
    panel.locator(".campaigns", has_text="Spring offer").wait_for(timeout=5000)
    assert "First message: scheduled" in panel.locator(".campaigns").inner_text()
    # One timeline for the person: both channels' messages, each labelled with its channel, newest last.
    timeline = panel.locator(".timeline-list")
    timeline.locator(".timeline-item[data-channel=service]", has_text="And hello from the other app").wait_for(timeout=5000)
    items = timeline.locator(".timeline-item.in")  # besides the campaign's planned first message, ours
    assert items.count() == 2
    assert "WhatsApp Sales" in items.nth(0).inner_text() and "Hello from WhatsApp" in items.nth(0).inner_text()
    assert "svc" in items.nth(1).inner_text() and "And hello from the other app" in items.nth(1).inner_text()
    # It follows the person live, on either channel.
    service(asgi_server, text="One more thing")
    timeline.locator(".timeline-item[data-channel=service]", has_text="One more thing").wait_for(timeout=5000)
    assert "One more thing" in timeline.locator(".timeline-item").last.inner_text()
    page.locator(".send-notes [data-note=quiet]").wait_for(timeout=5000)  # the contact's quiet hours, before sending
    assert_accessible(page, context="rep inbox: the contact panel")
    page.screenshot(path=str(SCREENSHOTS / "rep-inbox.png"))

    # From the timeline, by keyboard, to that message in its own conversation.
    show = timeline.get_by_role("button", name="Show in conversation on svc: And hello from the other app")
    show.focus()
    page.keyboard.press("Enter")
    page.locator("#thread-channel", has_text="svc").wait_for(timeout=5000)
    other = Message.objects.get(body="And hello from the other app")
    page.wait_for_function(f"() => document.activeElement && document.activeElement.dataset.id === '{other.id}'", timeout=5000)
    page.get_by_role("button", name="Conversation with Ada Lovelace on WhatsApp Sales").click()
    page.locator("#thread-channel", has_text="WhatsApp Sales").wait_for(timeout=5000)
    panel.get_by_role("button", name="Open svc").wait_for(timeout=5000)

    panel.get_by_role("button", name="Open svc").click()  # the same person's other channel
    page.locator("#thread-channel", has_text="svc").wait_for(timeout=5000)
    page.locator(".bubble.in .body", has_text="And hello from the other app").wait_for(timeout=5000)
    page.locator("#contact-panel .identities li[data-channel=service]", has_text="this conversation").wait_for(timeout=5000)
    assert panel.get_by_role("button", name="Open WhatsApp Sales").count() == 1  # and back to the first one
    context.close()


def test_a_message_delivered_late_is_shown_on_the_day_it_was_sent(browser, asgi_server, line):
    sent = time.time() - 86400  # the person's phone was offline: it reaches us a day after it was written
    whatsapp(asgi_server, text="Written yesterday on the train", at=sent)
    whatsapp(asgi_server, text="And this one today")
    context, page = login(browser, asgi_server, "alice")
    page.get_by_role("button", name="Conversation with Ada Lovelace").click()
    page.locator(".bubble.in .body", has_text="And this one today").wait_for(timeout=5000)
    assert page.locator(".thread .day").all_inner_texts() == ["Yesterday", "Today"]
    late = Message.objects.get(body="Written yesterday on the train")
    stamp = page.locator(f".bubble[data-id='{late.id}'] time").get_attribute("datetime")
    assert abs(timezone.datetime.fromisoformat(stamp).timestamp() - int(sent)) < 1
    assert_accessible(page, context="rep inbox: a late message")
    context.close()


def test_search_finds_an_old_message_and_jumps_to_it(browser, asgi_server, line):
    whatsapp(asgi_server, text="Do you have the catalogue?")
    conversation = conversation_of()
    target = Message.objects.create(conversation=conversation, channel=line["whatsapp"], direction="in", status="received",
                                    body="The pineapple crates arrive on pier 4")
    for i in range(40):  # older than the first page: the jump must page back to it
        Message.objects.create(conversation=conversation, channel=line["whatsapp"], direction="out" if i % 2 else "in",
                               status="read" if i % 2 else "received", body=f"small talk {i}")
    context, page = login(browser, asgi_server, "alice")
    page.get_by_label("Search conversation history").fill("pineapple")
    page.get_by_role("button", name="Find").click()
    result = page.locator(".result", has_text="pineapple crates")
    result.wait_for(timeout=5000)
    assert page.locator(".result").count() == 1
    assert "Ada Lovelace" in result.inner_text()
    assert_accessible(page, context="rep inbox: search results")
    result.click()
    found = page.locator(f".bubble[data-id='{target.id}']")
    found.wait_for(timeout=10000)
    page.wait_for_function(f"() => document.activeElement && document.activeElement.dataset.id === '{target.id}'", timeout=5000)
    assert "highlight" in found.get_attribute("class")
    assert found.is_visible() and page.locator(".bubble").count() == 42
    assert page.locator(".thread .day").count() >= 1  # date separators
    context.close()


def test_scrolling_to_the_top_loads_earlier_messages_and_the_button_does_by_keyboard(browser, asgi_server, line):
    whatsapp(asgi_server, text="The very first message")
    conversation = conversation_of()
    for i in range(60):
        Message.objects.create(conversation=conversation, channel=line["whatsapp"], direction="out" if i % 2 else "in",
                               status="read" if i % 2 else "received", body=f"line {i:02d} of a long talk")
    context, page = login(browser, asgi_server, "alice")
    page.get_by_role("button", name="Conversation with Ada Lovelace").click()
    bubbles = page.locator(".bubble")
    page.wait_for_function("() => document.querySelectorAll('.bubble').length === 25", timeout=5000)
    top = bubbles.first.get_attribute("data-id")
    page.locator("#thread").evaluate("el => { el.scrollTop = 0; }")  # as a wheel or a finger would
    page.wait_for_function("() => document.querySelectorAll('.bubble').length === 50", timeout=5000)
    # The page went in above: the message that was on top is still in view, nothing jumped.
    assert page.locator(f".bubble[data-id='{top}']").evaluate(
        "b => { const t = document.getElementById('thread').getBoundingClientRect(), r = b.getBoundingClientRect();"
        " return r.bottom > t.top && r.top < t.bottom; }")
    earlier = page.get_by_role("button", name="Show earlier")
    earlier.focus()
    page.keyboard.press("Enter")
    page.locator(".bubble .body", has_text="The very first message").wait_for(timeout=5000)
    assert bubbles.count() == 61 and earlier.count() == 0  # all there: nothing earlier to show
    context.close()


def test_attachments_come_through_the_app_never_from_the_platform(browser, asgi_server, line):
    graph = FakeGraph()
    try:
        line["whatsapp"].config = {"api_base_url": graph.url}
        line["whatsapp"].save()
        graph.serve("1234", "/files/photo.png", striped_png(), "image/png")
        graph.serve("a1", "/files/voice.wav", tone_wav(), "audio/wav")
        graph.serve("v1", "/files/clip.webm", CLIP, "video/webm")
        context, page = login(browser, asgi_server, "alice")
        whatsapp(asgi_server, image={"id": "1234", "mime_type": "image/png", "caption": "our stand"})
        whatsapp(asgi_server, location={"latitude": 38.7223, "longitude": -9.1393, "name": "Pier 4"})
        whatsapp(asgi_server, document={"id": "5678", "mime_type": "application/pdf", "filename": "offer.pdf"})
        whatsapp(asgi_server, audio={"id": "a1", "mime_type": "audio/wav"})
        whatsapp(asgi_server, video={"id": "v1", "mime_type": "video/webm", "caption": "the stand at night"})
        page.get_by_role("button", name="Conversation with Ada Lovelace").click()
        image = page.locator(".bubble.in img")
        image.wait_for(timeout=5000)
        page.wait_for_function("() => { const i = document.querySelector('.bubble.in img'); return i && i.complete && i.naturalWidth > 0; }",
                               timeout=5000)
        photo = Message.objects.get(media_type="image")
        assert image.get_attribute("src") == f"/api/messages/{photo.id}/media/"
        assert page.locator(".bubble.in .coords").inner_text() == "38.72230, -9.13930"
        document = Message.objects.get(media_type="document")
        assert page.locator(".bubble.in a.document").get_attribute("href") == f"/api/messages/{document.id}/media/"
        assert page.locator(".bubble.in a.document").get_attribute("download") == "offer.pdf"
        assert page.locator(".bubble.in a.document").inner_text() == "Download offer.pdf"  # the name the sender gave
        # Players, fed by the app's proxy: each has decoded its file's start (length, first frame).
        voice, clip = Message.objects.get(media_type="audio"), Message.objects.get(media_type="video")
        assert page.locator(".bubble.in audio[controls]").get_attribute("src") == f"/api/messages/{voice.id}/media/"
        assert page.locator(".bubble.in video[controls]").get_attribute("src") == f"/api/messages/{clip.id}/media/"
        decoded = "() => { const m = document.querySelector('.bubble.in %s'); return m && m.readyState >= 1 && %s; }"
        page.wait_for_function(decoded % ("audio", "m.duration > 0.2"), timeout=10000)
        page.wait_for_function(decoded % ("video", "m.videoWidth === 32"), timeout=10000)
        page.locator(".bubble.in .body", has_text="the stand at night").wait_for()
        sources = page.evaluate("() => [...document.querySelectorAll('[src], [href]')].map(e => e.getAttribute('src') || e.getAttribute('href'))")
        assert not [s for s in sources if graph.url in s or "whatsapp-media" in s or s.startswith(("http:", "https:", "//"))]
        asked = {path for path, token in graph.asked if token == "Bearer wa-token"}
        assert {"/files/photo.png", "/files/voice.wav", "/files/clip.webm"} <= asked  # the app fetched them, with the channel's token
        assert_accessible(page, context="rep inbox: attachments")
        page.screenshot(path=str(SCREENSHOTS / "rep-inbox-attachments.png"))
        context.close()
    finally:
        graph.close()
    assert PNG.startswith(b"\x89PNG")


def test_desktop_notification_for_a_new_message_while_the_tab_is_hidden(browser, asgi_server, line):
    context, page = login(browser, asgi_server, "alice")
    context.grant_permissions(["notifications"])
    # Records what the page shows; the tab's visibility is set as the browser would when the rep switches away.
    page.add_init_script("""(() => {
        const Real = window.Notification; window.__shown = [];
        class Recording extends Real { constructor(title, options) { super(title, options); window.__shown.push([title, options.body]); } }
        window.Notification = Recording;
        window.__hide = () => { Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});
                                document.dispatchEvent(new Event('visibilitychange')); };
    })()""")
    page.reload()
    page.wait_for_function("() => document.body.dataset.socket === 'online'")
    toggle = page.get_by_role("button", name="Desktop alerts off")
    toggle.click()
    page.get_by_role("button", name="Desktop alerts on").wait_for(timeout=5000)
    whatsapp(asgi_server, text="Visible tab: no alert")
    page.get_by_role("button", name="Conversation with Ada Lovelace").wait_for(timeout=5000)
    page.evaluate("() => window.__hide()")
    whatsapp(asgi_server, text="Are you there?")
    page.wait_for_function("() => window.__shown.length > 0", timeout=5000)
    assert page.evaluate("() => window.__shown") == [["New message from Ada Lovelace", "Are you there?"]]
    context.close()


@pytest.mark.parametrize("size", [{"width": 390, "height": 844}, {"width": 1280, "height": 720}])
def test_readable_on_a_phone_and_at_1280_by_720(browser, asgi_server, line, size):
    context, page = login(browser, asgi_server, "alice")
    page.set_viewport_size(size)
    whatsapp(asgi_server, text="A message long enough to wrap on a narrow phone screen, without a sideways scroll")
    item = page.get_by_role("button", name="Conversation with Ada Lovelace")
    item.click()
    page.locator("#thread-title", has_text="Ada Lovelace").wait_for()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= size["width"]
    send = page.get_by_role("button", name="Send").bounding_box()
    if size["width"] < 700:
        assert not item.is_visible()  # the thread takes the screen; a button leads back
        assert_accessible(page, context=f"rep inbox: a conversation at {size['width']}×{size['height']}")
        page.screenshot(path=str(SCREENSHOTS / "rep-inbox-phone.png"))
        page.get_by_role("button", name="← Conversations").click()
        item.wait_for()
    else:
        assert send["y"] + send["height"] <= size["height"]  # the composer fits without scrolling
    assert_accessible(page, context=f"rep inbox at {size['width']}×{size['height']}")
    context.close()


def test_a_manager_sees_the_rep_typing_and_reassigns_the_conversation(browser, asgi_server, line):
    bob = make_rep("bob", team=line["alice"].team)
    ctx_rep, rep = login(browser, asgi_server, "alice")
    whatsapp(asgi_server, text="Who can help me?")
    rep.get_by_role("button", name="Conversation with Ada Lovelace").click()
    ctx_manager, manager = login(browser, asgi_server, "maya")
    manager.get_by_role("button", name="Conversation with Ada Lovelace").click()
    manager.locator("#thread-title", has_text="Ada Lovelace").wait_for()
    rep.get_by_label("Message").press_sequentially("I can", delay=50)
    manager.locator("#typing", has_text="Alice is typing…").wait_for(timeout=5000)
    manager.get_by_label("Message").press_sequentially("Let me", delay=50)  # a rep has no list of reps: the event names the typist
    rep.locator("#typing", has_text="Maya is typing…").wait_for(timeout=5000)
    assert_accessible(manager, context="manager in the inbox: assign")
    manager.get_by_label("Assign to").select_option(label="Bob")
    rep.locator(".notice", has_text="reassigned").wait_for(timeout=5000)
    assert rep.get_by_role("button", name="Conversation with Ada Lovelace").count() == 0
    assert conversation_of().rep_id == bob.id
    ctx_rep.close()
    ctx_manager.close()


def test_the_list_pages_on_scroll_and_filters_by_channel_and_unread(browser, asgi_server, line):
    make_rep_channel(line["alice"], line["service"])
    for i in range(30):
        c = make_conversation(line["alice"], line["whatsapp"], external_id=f"49151000100{i:02d}", name=f"Lead {i:02d}")
        Conversation.objects.filter(pk=c.pk).update(last_message_at=timezone.now() - timedelta(minutes=i))
    context, page = login(browser, asgi_server, "alice")
    service(asgi_server, text="Unread on the other app", contact_id="u-77", name="Zed Unread", phone="+4915100000077")
    page.get_by_role("button", name="Conversation with Zed Unread").wait_for(timeout=5000)
    assert page.locator(".conversation").count() == 26  # the first page, and the live one
    page.locator(".conversation").last.scroll_into_view_if_needed()
    page.get_by_role("button", name="Conversation with Lead 29").wait_for(timeout=5000)
    assert page.locator(".conversation").count() == 31
    page.get_by_label("Channel").select_option(label="svc")
    page.wait_for_function("() => document.querySelectorAll('.conversation').length === 1", timeout=5000)
    page.get_by_label("Channel").select_option("")
    page.get_by_label("Unread", exact=True).check()
    page.wait_for_function("() => document.querySelectorAll('.conversation').length === 1", timeout=5000)
    assert "Zed Unread" in page.locator(".conversation").inner_text()
    page.get_by_label("Unread", exact=True).uncheck()
    page.get_by_label("Search conversations").fill("Lead 07")  # the contact's name, phone or e-mail
    page.wait_for_function("() => { const found = document.querySelectorAll('.conversation');"
                           " return found.length === 1 && found[0].textContent.includes('Lead 07'); }", timeout=5000)
    context.close()
