"""The API the rep inbox's screens read: unread counts, mark unread, a contact's campaigns, message
states with their reasons and coordinates, and attachments served through the app."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from inbox.models import Contact, Conversation, Message
from inbox.tests.api_world import message


def post(client, path, body=None):
    return client.post(path, data=json.dumps(body or {}), content_type="application/json")


def test_counts_are_the_callers_unread_and_statuses(world, client_for):
    Conversation.objects.filter(pk=world.conv_a.id).update(unread_count=3)
    Conversation.objects.filter(pk=world.conv_b.id).update(unread_count=5, status="resolved")
    counts = client_for(world.rep_a.user).get("/api/conversations/counts/").json()
    assert counts["unread_conversations"] == 1 and counts["unread_messages"] == 3  # rep B's stay rep B's
    assert counts["by_status"] == {"open": 1, "pending": 0, "resolved": 0, "snoozed": 0}
    manager = client_for(world.manager_a.user).get("/api/conversations/counts/").json()
    assert manager["unread_messages"] == 8 and manager["by_status"]["resolved"] == 1


def test_mark_unread_counts_once_until_read_and_tells_the_socket(world, client_for, django_capture_on_commit_callbacks):
    client = client_for(world.rep_a.user)
    Conversation.objects.filter(pk=world.conv_a.id).update(unread_count=0)
    with django_capture_on_commit_callbacks(execute=True):
        answer = post(client, f"/api/conversations/{world.conv_a.id}/unread/")
    assert answer.status_code == 200 and answer.json()["unread_count"] == 1
    Conversation.objects.filter(pk=world.conv_a.id).update(unread_count=4)
    assert post(client, f"/api/conversations/{world.conv_a.id}/unread/").json()["unread_count"] == 4  # already unread: kept
    assert post(client, f"/api/conversations/{world.conv_a.id}/read/").json()["unread_count"] == 0
    assert post(client_for(world.rep_b.user), f"/api/conversations/{world.conv_a.id}/unread/").status_code == 404


def test_contact_campaigns_list_the_contacts_steps_for_whoever_sees_the_contact(world, client_for):
    from campaigns.models import CampaignRecipient, CampaignStep

    CampaignStep.objects.create(campaign=world.campaign_a, number=1, delay_hours=48, text="Still interested?")
    CampaignRecipient.objects.create(campaign=world.campaign_a, contact_id=world.conv_a.contact_id, step=1,
                                     state="skipped", reason="replied before the follow-up")
    answer = client_for(world.rep_a.user).get(f"/api/contacts/{world.conv_a.contact_id}/campaigns/")
    assert answer.status_code == 200
    [campaign] = answer.json()
    assert (campaign["name"], campaign["status"], campaign["follow_up_steps"]) == ("Spring A", "running", 1)
    assert [(s["step"], s["state"], s["reason"]) for s in campaign["steps"]] == [
        (0, "scheduled", ""), (1, "skipped", "replied before the follow-up")]
    assert client_for(world.rep_b.user).get(f"/api/contacts/{world.conv_a.contact_id}/campaigns/").status_code == 404


def test_contact_names_its_owner(world, client_for):
    Contact.objects.filter(pk=world.conv_a.contact_id).update(owner=world.rep_a)
    assert client_for(world.rep_a.user).get(f"/api/contacts/{world.conv_a.contact_id}/").json()["owner_name"] == "Alice"


def test_messages_carry_the_defer_code_and_a_locations_coordinates(world, client_for):
    message(world.conv_a, "", kind="location", latitude=38.7223, longitude=-9.1393)
    Message.objects.filter(pk=world.failed_a.id).update(status="deferred", defer_code="outside_shift",
                                                        defer_reason="outside shift until 09:00 Europe/Paris")
    results = {m["id"]: m for m in client_for(world.rep_a.user).get(f"/api/conversations/{world.conv_a.id}/messages/").json()["results"]}
    located = next(m for m in results.values() if m["kind"] == "location")
    assert (located["latitude"], located["longitude"]) == (38.7223, -9.1393)
    assert (results[world.failed_a.id]["defer_code"], results[world.failed_a.id]["defer_reason"]) == (
        "outside_shift", "outside shift until 09:00 Europe/Paris")


# ---- the attachment proxy ---------------------------------------------------------------------------

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2d4b7cc0000000049454e44ae426082")


class FakeGraph:
    """A loopback stand-in for Meta's Graph API: media ids → a download URL, which needs the token.
    Every id is the photo unless `serve` gave it a file of its own."""

    def __init__(self):
        self.asked: list[tuple[str, str]] = []
        self.files: dict[str, tuple[bytes, str]] = {}  # path → (body, content type)
        self.media: dict[str, str] = {}  # media id → path
        graph = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                graph.asked.append((self.path, self.headers.get("Authorization", "")))
                public = self.path == "/files/page.svg"  # a CDN link (Messenger's): no token needed
                if not public and self.headers.get("Authorization") != "Bearer wa-token":
                    body, status, kind = b'{"error": {"message": "bad token"}}', 401, "application/json"
                elif self.path.startswith("/v21.0/"):
                    path = graph.media.get(self.path.removeprefix("/v21.0/"), "/files/photo.png")
                    body, status, kind = json.dumps({"url": f"{graph.url}{path}"}).encode(), 200, "application/json"
                elif self.path in graph.files:
                    (body, kind), status = graph.files[self.path], 200
                elif self.path == "/files/photo.png":
                    body, status, kind = PNG, 200, "image/png"
                elif self.path == "/files/page.svg":
                    body, status, kind = b"<svg onload='alert(1)'/>", 200, "image/svg+xml"
                else:
                    body, status, kind = b"gone", 404, "text/plain"
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def serve(self, media_id: str, path: str, body: bytes, content_type: str) -> None:
        self.media[media_id], self.files[path] = path, (body, content_type)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def graph():
    server = FakeGraph()
    yield server
    server.close()


def _whatsapp_line(world, graph):
    channel = world.channel
    channel.kind, channel.config, channel.secrets = "whatsapp", {"api_base_url": graph.url}, {"access_token": "wa-token"}
    channel.save()


def test_a_whatsapp_media_id_is_fetched_with_the_channels_token_and_served_by_the_app(world, client_for, graph):
    _whatsapp_line(world, graph)
    photo = message(world.conv_a, "our stand", kind="media", media_type="image", media_url="whatsapp-media:1234")
    answer = client_for(world.rep_a.user).get(f"/api/messages/{photo.id}/media/")
    assert answer.status_code == 200 and answer.content == PNG
    assert answer["Content-Type"] == "image/png" and answer["Content-Disposition"].startswith("inline")
    assert answer["X-Content-Type-Options"] == "nosniff"
    assert graph.asked == [("/v21.0/1234", "Bearer wa-token"), ("/files/photo.png", "Bearer wa-token")]
    assert client_for(world.rep_b.user).get(f"/api/messages/{photo.id}/media/").status_code == 404


def test_an_svg_or_unknown_type_is_downloaded_never_shown_inline(world, client_for, graph):
    _whatsapp_line(world, graph)
    svg = message(world.conv_a, "", kind="media", media_type="image", media_url=f"{graph.url}/files/page.svg")
    world.channel.kind = "messenger"  # a plain URL, fetched as it is
    world.channel.save()
    answer = client_for(world.rep_a.user).get(f"/api/messages/{svg.id}/media/")
    assert answer.status_code == 200 and answer.content.startswith(b"<svg")
    assert answer["Content-Type"] == "application/octet-stream" and answer["Content-Disposition"].startswith("attachment")
    assert "sandbox" in answer["Content-Security-Policy"]


def test_expired_media_is_a_clear_502_and_nothing_is_stored(world, client_for, graph):
    _whatsapp_line(world, graph)
    gone = message(world.conv_a, "", kind="media", media_type="video", media_url=f"{graph.url}/files/expired.mp4")
    world.channel.kind = "messenger"
    world.channel.save()
    answer = client_for(world.rep_a.user).get(f"/api/messages/{gone.id}/media/")
    assert answer.status_code == 502 and answer.json()["detail"]
    assert Message.objects.get(pk=gone.id).media_url.endswith("/files/expired.mp4")


def test_audio_video_and_documents_are_served_as_their_players_and_a_download_need(world, client_for, graph):
    _whatsapp_line(world, graph)
    graph.serve("a1", "/files/voice.ogg", b"OggS-voice", "audio/ogg; codecs=opus")
    graph.serve("v1", "/files/clip.webm", b"\x1aE\xdf\xa3-clip", "video/webm")
    graph.serve("d1", "/files/offer.docx", b"PK-docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    client = client_for(world.rep_a.user)
    served = {}
    for media_id, kind in (("a1", "audio"), ("v1", "video"), ("d1", "document")):
        m = message(world.conv_a, "", kind="media", media_type=kind, media_url=f"whatsapp-media:{media_id}")
        answer = client.get(f"/api/messages/{m.id}/media/")
        assert answer.status_code == 200
        served[kind] = (answer["Content-Type"], answer["Content-Disposition"].split(";")[0], answer.content)
    assert served["audio"] == ("audio/ogg", "inline", b"OggS-voice")  # the <audio> player's source
    assert served["video"] == ("video/webm", "inline", b"\x1aE\xdf\xa3-clip")
    assert served["document"] == ("application/octet-stream", "attachment", b"PK-docx")  # a download, never run


# ---- WhatsApp's 24-hour window (inbox.rules.reply_window over inbox.selectors.last_inbound_on_channels) ----

def _window(client, conversation) -> dict:
    answer = client.get(f"/api/conversations/{conversation.id}/")
    assert answer.status_code == 200
    return answer.json()["reply_window"]


def test_the_24_hour_window_is_the_persons_last_message_on_the_channel_in_any_of_their_conversations(world, client_for):
    from datetime import timedelta

    from django.utils import timezone

    world.channel.kind = "whatsapp"
    world.channel.save()
    client, now = client_for(world.rep_a.user), timezone.now()
    Conversation.objects.filter(pk=world.conv_a.id).update(last_inbound_at=now - timedelta(hours=30))
    closed = _window(client, world.conv_a)
    assert (closed["applies"], closed["open"]) == (True, False)
    assert closed["closes_at"] == (now - timedelta(hours=6)).isoformat()

    # The person wrote two hours ago in a conversation since resolved: the window is open here too.
    Conversation.objects.create(contact_id=world.conv_a.contact_id, channel=world.channel, rep=world.rep_a,
                                status="resolved", last_inbound_at=now - timedelta(hours=2))
    reopened = _window(client, world.conv_a)
    assert (reopened["open"], reopened["last_inbound_at"]) == (True, (now - timedelta(hours=2)).isoformat())
    # …while a message on another channel opens nothing on this one.
    Conversation.objects.create(contact_id=world.conv_b.contact_id, channel=world.channel_b, last_inbound_at=now)
    Conversation.objects.filter(contact_id=world.conv_b.contact_id, channel=world.channel).update(last_inbound_at=None)
    never = _window(client_for(world.rep_b.user), world.conv_b)
    assert never == {"applies": True, "open": False, "last_inbound_at": None, "closes_at": None}


def test_the_24_hour_window_does_not_apply_off_whatsapp(world, client_for):
    window = _window(client_for(world.rep_a.user), world.conv_a)
    assert world.channel.kind != "whatsapp" and (window["applies"], window["open"]) == (False, True)


def test_a_documents_download_carries_the_file_name_the_sender_gave(world, client_for, graph):
    _whatsapp_line(world, graph)
    graph.serve("d2", "/files/e3b0c442", b"%PDF-1.7", "application/pdf")  # Meta's URL names no file
    document = message(world.conv_a, "", kind="media", media_type="document", media_url="whatsapp-media:d2",
                       media_filename="PO-2025-0117.pdf")
    answer = client_for(world.rep_a.user).get(f"/api/messages/{document.id}/media/")
    assert answer.status_code == 200 and answer["Content-Disposition"] == 'inline; filename="PO-2025-0117.pdf"'


def test_the_persons_timeline_holds_only_the_conversations_the_rep_may_see(world, client_for):
    # The same person on another channel, in a conversation of another rep: not in rep A's timeline.
    contact = world.conv_a.contact
    elsewhere = Conversation.objects.create(contact=contact, channel=world.channel_free, rep=world.rep_b, status="open")
    hidden = message(elsewhere, "said to rep B only")
    mine = client_for(world.rep_a.user).get(f"/api/contacts/{contact.id}/timeline/?page_size=100").json()["results"]
    assert {m["id"] for m in mine} == set(Message.objects.filter(conversation=world.conv_a).values_list("id", flat=True))
    assert all(m["channel_id"] == world.channel.id and "sent_at" in m for m in mine)
    admin = client_for(world.admin).get(f"/api/contacts/{contact.id}/timeline/?page_size=100").json()["results"]
    assert hidden.id in {m["id"] for m in admin}
    theirs = client_for(world.rep_b.user).get(f"/api/contacts/{contact.id}/timeline/?page_size=100").json()["results"]
    assert [m["id"] for m in theirs] == [hidden.id]  # and rep B sees nothing of rep A's conversation
