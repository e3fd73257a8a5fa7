"""The inbox REST API: scope on every path, filters that only narrow, cursor pages, idempotent
compose, scoped full-text search, templates, contacts and the all-or-nothing CSV import."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from inbox.models import Contact, Conversation, Message, Template
from inbox.tests.api_world import message
from inbox.tests.factories import make_conversation


def post(client, path, body=None, **extra):
    return client.post(path, data=json.dumps(body or {}), content_type="application/json", **extra)


def patch(client, path, body):
    return client.patch(path, data=json.dumps(body), content_type="application/json")


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {item["id"] for item in response.json()["results"]}


# ---- auth ----------------------------------------------------------------------------------------


def test_token_for_good_credentials_authenticates_later_calls(world, client):
    response = post(client, "/api/auth/token/", {"username": "alice", "password": "pass-alice"})
    assert response.status_code == 200
    token = response.json()["token"]
    me = client.get("/api/me/", HTTP_AUTHORIZATION=f"Token {token}")
    assert me.status_code == 200
    assert me.json() == {"id": world.rep_a.user.id, "username": "alice", "is_superuser": False,
                         "rep": {"id": world.rep_a.id, "full_name": "Alice", "role": "rep",
                                 "team_id": world.rep_a.team_id, "is_available": True}}


@pytest.mark.parametrize(("body", "problem"), [
    ({"username": "alice", "password": "wrong"}, "wrong username or password"),
    ({"username": "nobody", "password": "x"}, "wrong username or password"),
    ({"password": "x"}, "username is required"),
    ({"username": "alice"}, "password is required"),
])
def test_token_refused_with_400_naming_the_problem(world, client, body, problem):
    response = post(client, "/api/auth/token/", body)
    assert response.status_code == 400
    assert problem in response.json()["detail"]


def test_me_for_an_admin_without_rep_profile(world, client_for):
    response = client_for(world.admin).get("/api/me/")
    assert response.json() == {"id": world.admin.id, "username": "root", "is_superuser": True, "rep": None}


def test_anonymous_is_refused_everywhere_but_token(world, client):
    for path in ("/api/me/", "/api/conversations/", f"/api/conversations/{world.conv_a.id}/messages/",
                 "/api/messages/search/?q=pineapple", "/api/templates/", "/api/contacts/", "/api/schema/", "/api/docs/"):
        assert client.get(path).status_code in (401, 403), path


# ---- conversations -------------------------------------------------------------------------------


def test_each_role_lists_exactly_its_scope(world, client_for):
    w = world
    assert ids(client_for(w.rep_a.user).get("/api/conversations/")) == {w.conv_a.id}
    assert ids(client_for(w.rep_b.user).get("/api/conversations/")) == {w.conv_b.id}
    # unassigned ones go to the team of their contact (Una: team A, though on team B's channel), else of their channel
    assert ids(client_for(w.manager_a.user).get("/api/conversations/")) == {w.conv_a.id, w.conv_b.id, w.conv_unassigned.id}
    assert ids(client_for(w.manager_b.user).get("/api/conversations/")) == {w.conv_team_b.id, w.conv_unassigned_b.id}
    assert ids(client_for(w.manager_none.user).get("/api/conversations/")) == set()
    assert ids(client_for(w.admin).get("/api/conversations/")) == {c.id for c in w.conversations()}


def test_list_item_is_the_socket_payload_plus_contact_channel_and_rep(world, client_for):
    from inbox.payloads import conversation_payload

    item = client_for(world.rep_a.user).get("/api/conversations/").json()["results"][0]
    conversation = Conversation.objects.select_related("contact", "channel", "rep").get(pk=world.conv_a.id)
    assert {k: item[k] for k in conversation_payload(conversation)} == dict(conversation_payload(conversation))
    assert item["contact"] == {"id": conversation.contact_id, "name": "Ada Lovelace", "phone": "+447700900123",
                               "email": "ada@example.com", "lead_score": 0, "tags": []}
    assert item["channel"] == {"id": world.channel.id, "name": "Service Desk", "kind": "service"}
    assert item["rep"] == {"id": world.rep_a.id, "full_name": "Alice"}


def test_filters_narrow_and_never_widen_the_scope(world, client_for):
    w = world
    rep_a, manager = client_for(w.rep_a.user), client_for(w.manager_a.user)
    assert ids(rep_a.get(f"/api/conversations/?rep={w.rep_b.id}")) == set()
    assert ids(rep_a.get("/api/conversations/?rep=none")) == set()
    assert ids(manager.get("/api/conversations/?rep=none")) == {w.conv_unassigned.id}
    assert ids(manager.get(f"/api/conversations/?rep={w.rep_b.id}")) == {w.conv_b.id}
    assert ids(client_for(w.manager_b.user).get(f"/api/conversations/?rep={w.rep_a.id}")) == set()
    assert ids(manager.get("/api/conversations/?search=lovelace")) == {w.conv_a.id}
    assert ids(manager.get("/api/conversations/?search=4915112")) == {w.conv_b.id}
    assert ids(manager.get("/api/conversations/?search=ADA@example")) == {w.conv_a.id}
    Conversation.objects.filter(pk=w.conv_b.id).update(unread_count=3, status="pending")
    assert ids(manager.get("/api/conversations/?unread=true")) == {w.conv_b.id}
    assert ids(manager.get("/api/conversations/?status=pending")) == {w.conv_b.id}
    assert ids(manager.get(f"/api/conversations/?channel={w.channel.id}&status=open")) == {w.conv_a.id}
    assert ids(manager.get(f"/api/conversations/?channel={w.channel_b.id}")) == {w.conv_unassigned.id}


@pytest.mark.parametrize("query", ["status=closed", "channel=abc", "channel=-1", "rep=bob", "unread=maybe",
                                   "page_size=0", "page_size=101", "cursor=notacursor", "search=" + "x" * 101])
def test_bad_filters_are_400_naming_the_parameter(world, client_for, query):
    response = client_for(world.manager_a.user).get(f"/api/conversations/?{query}")
    assert response.status_code == 400
    assert query.split("=")[0] in response.json()


def test_cursor_pages_walk_every_conversation_once_newest_first(world, client_for):
    now = timezone.now()
    extra = [make_conversation(world.rep_a, world.channel) for _ in range(6)]
    for i, conversation in enumerate(extra[:4]):  # two share a timestamp; two never had a message (null)
        Conversation.objects.filter(pk=conversation.pk).update(last_message_at=now - timedelta(minutes=min(i, 2)))
    client = client_for(world.rep_a.user)
    seen, url = [], "/api/conversations/?page_size=2"
    while url:
        page = client.get(url).json()
        seen += [item["id"] for item in page["results"]]
        url = page["next"]
    expected = list(Conversation.objects.filter(rep=world.rep_a).order_by("-last_message_at", "-id").values_list("id", flat=True))
    assert seen == expected
    assert len(seen) == 7


def test_detail_of_another_reps_conversation_is_404(world, client_for):
    assert client_for(world.rep_b.user).get(f"/api/conversations/{world.conv_a.id}/").status_code == 404
    assert client_for(world.manager_b.user).get(f"/api/conversations/{world.conv_a.id}/").status_code == 404
    assert client_for(world.rep_a.user).get(f"/api/conversations/{world.conv_a.id}/").json()["id"] == world.conv_a.id
    assert client_for(world.rep_a.user).get("/api/conversations/999999999999999999/").status_code == 404


def test_manager_assigns_within_team_only(world, client_for):
    manager = client_for(world.manager_a.user)
    response = post(manager, f"/api/conversations/{world.conv_unassigned.id}/assign/", {"rep_id": world.rep_b.id})
    assert response.status_code == 200
    assert response.json()["rep"] == {"id": world.rep_b.id, "full_name": "Bob"}
    outsider = world.conv_team_b.rep_id
    response = post(manager, f"/api/conversations/{world.conv_a.id}/assign/", {"rep_id": outsider})
    assert response.status_code == 400
    assert Conversation.objects.get(pk=world.conv_a.id).rep_id == world.rep_a.id
    response = post(manager, f"/api/conversations/{world.conv_a.id}/assign/", {"rep_id": None})
    assert response.status_code == 200 and response.json()["rep"] is None


def test_reps_cannot_assign_and_other_teams_cannot_see(world, client_for):
    assert post(client_for(world.rep_a.user), f"/api/conversations/{world.conv_a.id}/assign/",
                {"rep_id": world.rep_b.id}).status_code == 404
    assert post(client_for(world.manager_b.user), f"/api/conversations/{world.conv_a.id}/assign/",
                {"rep_id": world.manager_b.id}).status_code == 404
    assert Conversation.objects.get(pk=world.conv_a.id).rep_id == world.rep_a.id


def test_status_and_read(world, client_for):
    client = client_for(world.rep_a.user)
    Conversation.objects.filter(pk=world.conv_a.id).update(unread_count=4)
    later = (timezone.now() + timedelta(hours=2)).isoformat()
    response = post(client, f"/api/conversations/{world.conv_a.id}/status/", {"status": "snoozed", "snoozed_until": later})
    assert response.status_code == 200 and response.json()["status"] == "snoozed"
    response = post(client, f"/api/conversations/{world.conv_a.id}/status/", {"status": "snoozed"})
    assert response.status_code == 400 and "snoozed_until" in response.json()["detail"]
    assert post(client, f"/api/conversations/{world.conv_a.id}/read/").json()["unread_count"] == 0
    assert post(client_for(world.rep_b.user), f"/api/conversations/{world.conv_a.id}/status/",
                {"status": "resolved"}).status_code == 404


# ---- messages ------------------------------------------------------------------------------------


def test_messages_newest_first_and_scoped(world, client_for):
    response = client_for(world.rep_a.user).get(f"/api/conversations/{world.conv_a.id}/messages/")
    assert [m["id"] for m in response.json()["results"]] == [world.failed_a.id, world.msg_a.id]
    assert client_for(world.rep_b.user).get(f"/api/conversations/{world.conv_a.id}/messages/").status_code == 404


def test_idempotency_key_double_post_makes_one_message(world, client_for):
    client = client_for(world.rep_a.user)
    path = f"/api/conversations/{world.conv_a.id}/messages/"
    first = post(client, path, {"text": "See you Monday"}, HTTP_IDEMPOTENCY_KEY="k-123")
    second = post(client, path, {"text": "See you Monday"}, HTTP_IDEMPOTENCY_KEY="k-123")
    assert first.status_code == 201 and second.status_code == 200
    assert first.json() == second.json()
    assert first.json()["status"] == "queued" and first.json()["sender_id"] == world.rep_a.id
    assert Message.objects.filter(conversation=world.conv_a, body="See you Monday").count() == 1
    third = post(client, path, {"text": "See you Monday"})
    assert third.status_code == 201 and third.json()["id"] != first.json()["id"]


def test_compose_with_a_template_and_bad_input(world, client_for):
    client = client_for(world.rep_a.user)
    path = f"/api/conversations/{world.conv_a.id}/messages/"
    response = post(client, path, {"template_id": world.template.id, "variables": {"name": "Ada", "day": "Friday"}})
    assert response.status_code == 201
    assert response.json()["body"] == "Hello Ada, your offer ends Friday."
    missing = post(client, path, {"template_id": world.template.id, "variables": {"name": "Ada"}})
    assert missing.status_code == 400 and "day" in missing.json()["detail"]
    assert post(client, path, {}).status_code == 400
    assert post(client, path, {"text": "x", "template_id": world.template.id}).status_code == 400
    assert post(client, path, {"text": "   "}).status_code == 400
    assert post(client, path, {"text": "hi"}, HTTP_IDEMPOTENCY_KEY="x" * 101).status_code == 400


def test_no_message_into_someone_elses_conversation(world, client_for):
    for user in (world.rep_b.user, world.manager_b.user):
        response = post(client_for(user), f"/api/conversations/{world.conv_a.id}/messages/", {"text": "sneaky"})
        assert response.status_code == 404
    assert not Message.objects.filter(body="sneaky").exists()


def test_full_text_search_finds_words_only_in_the_callers_conversations(world, client_for):
    assert ids(client_for(world.rep_a.user).get("/api/messages/search/?q=pineapple")) == {world.msg_a.id}
    assert ids(client_for(world.rep_b.user).get("/api/messages/search/?q=pineapple")) == {world.msg_b.id}
    assert ids(client_for(world.manager_b.user).get("/api/messages/search/?q=pineapple")) == {
        world.messages[world.conv_team_b.id], world.messages[world.conv_unassigned_b.id]}
    assert ids(client_for(world.manager_a.user).get("/api/messages/search/?q=pineapple")) == {
        world.msg_a.id, world.msg_b.id, world.messages[world.conv_unassigned.id]}
    assert ids(client_for(world.rep_a.user).get("/api/messages/search/?q=shipment tomorrow")) == {world.msg_a.id}
    assert ids(client_for(world.rep_a.user).get("/api/messages/search/?q=pineapple -shipment")) == set()
    assert client_for(world.rep_a.user).get("/api/messages/search/").status_code == 400


def test_search_vector_is_kept_by_the_database_on_every_write_path(world):
    bulk = Message.objects.bulk_create([Message(conversation=world.conv_a, channel=world.channel, direction="in",
                                                status="received", body="bulk kumquat")])
    Message.objects.filter(pk=world.msg_a.pk).update(body="now about a durian")
    found = set(Message.objects.filter(search="kumquat").values_list("id", flat=True))
    assert found == {bulk[0].id}
    assert set(Message.objects.filter(search="durian").values_list("id", flat=True)) == {world.msg_a.id}
    assert not Message.objects.filter(search="pineapple", pk=world.msg_a.pk).exists()


def test_retry_a_failed_message(world, client_for):
    assert post(client_for(world.rep_b.user), f"/api/messages/{world.failed_a.id}/retry/").status_code == 404
    response = post(client_for(world.rep_a.user), f"/api/messages/{world.failed_a.id}/retry/")
    assert response.status_code == 200 and response.json()["status"] == "queued"
    again = post(client_for(world.rep_a.user), f"/api/messages/{world.failed_a.id}/retry/")
    assert again.status_code == 400 and "failed" in again.json()["detail"]


# ---- templates -----------------------------------------------------------------------------------


def test_templates_read_by_all_written_by_managers(world, client_for):
    rep, manager = client_for(world.rep_a.user), client_for(world.manager_b.user)
    item = rep.get(f"/api/templates/{world.template.id}/").json()
    assert item["variables"] == ["name", "day"]
    assert item["translations"] == {"fr": "Bonjour {name}, votre offre se termine {day}."}
    body = {"name": "welcome", "body": "Hi {first_name}!", "translations": {"es": "¡Hola {first_name}!"},
            "whatsapp_name": "welcome_v1"}
    assert post(rep, "/api/templates/", body).status_code == 403
    created = post(manager, "/api/templates/", body)
    assert created.status_code == 201 and created.json()["variables"] == ["first_name"]
    assert post(manager, "/api/templates/", body).status_code == 400  # the name is taken
    tid = created.json()["id"]
    assert patch(rep, f"/api/templates/{tid}/", {"body": "x"}).status_code == 403
    assert patch(manager, f"/api/templates/{tid}/", {"body": "Hey {first_name}"}).json()["body"] == "Hey {first_name}"
    assert rep.delete(f"/api/templates/{tid}/").status_code == 403
    assert manager.delete(f"/api/templates/{tid}/").status_code == 204
    assert not Template.objects.filter(pk=tid).exists()


@pytest.mark.parametrize("body", ["Hi {}", "Hi {0}", "Hi {name.__class__}", "Hi {name!r}", "Hi {name:>10}", "Hi {name"])
def test_template_text_must_use_plain_variable_names(world, client_for, body):
    response = post(client_for(world.admin), "/api/templates/", {"name": "bad", "body": body})
    assert response.status_code == 400


def test_preview_renders_a_translation_and_lists_missing_variables(world, client_for):
    client = client_for(world.rep_a.user)
    path = f"/api/templates/{world.template.id}/preview/"
    ok = post(client, path, {"variables": {"name": "Ada", "day": "vendredi"}, "language": "fr"})
    assert ok.json() == {"text": "Bonjour Ada, votre offre se termine vendredi.", "missing": []}
    assert post(client, path, {"variables": {"name": "Ada"}}).json() == {"text": "", "missing": ["day"]}


# ---- contacts ------------------------------------------------------------------------------------


def test_contact_scope_per_role(world, client_for):
    w = world
    contact_a, contact_b = w.conv_a.contact_id, w.conv_b.contact_id
    assert ids(client_for(w.rep_a.user).get("/api/contacts/")) == {contact_a, w.owned_a.id}
    assert ids(client_for(w.rep_b.user).get("/api/contacts/")) == {contact_b}
    assert ids(client_for(w.manager_a.user).get("/api/contacts/")) == {
        contact_a, contact_b, w.conv_unassigned.contact_id, w.owned_a.id}
    assert ids(client_for(w.manager_b.user).get("/api/contacts/")) == {
        w.conv_team_b.contact_id, w.conv_unassigned_b.contact_id, w.contact_b.id}
    assert client_for(w.rep_b.user).get(f"/api/contacts/{w.owned_a.id}/").status_code == 404
    assert patch(client_for(w.rep_b.user), f"/api/contacts/{w.owned_a.id}/", {"name": "x"}).status_code == 404


def test_contact_detail_shows_preferences_and_identities(world, client_for):
    item = client_for(world.rep_a.user).get(f"/api/contacts/{world.conv_a.contact_id}/").json()
    assert item["identities"] == [{"id": item["identities"][0]["id"], "channel_id": world.channel.id,
                                   "channel_name": "Service Desk", "channel_kind": "service",
                                   "external_id": f"ext-{world.conv_a.contact_id}"}]
    assert item["preferences"]["timezone"] == "UTC" and item["preferences"]["opted_out"] is False


def test_rep_creates_a_contact_owned_by_themselves(world, client_for):
    client = client_for(world.rep_a.user)
    body = {"name": "New Lead", "phone": "06 12 34 56 79", "country": "fr", "tags": ["fair"],
            "preferences": {"timezone": "Europe/Paris", "allowed_start": "09:00", "allowed_end": "18:00",
                            "opt_ins": ["whatsapp"], "opt_outs": ["sms"]}}
    response = post(client, "/api/contacts/", body)
    assert response.status_code == 201, response.content
    item = response.json()
    assert item["owner"] == world.rep_a.id and item["phone"] == "+33612345679" and item["country"] == "FR"
    assert item["preferences"]["allowed_start"] == "09:00:00"
    assert item["preferences"]["opt_ins"] == ["whatsapp"] and item["preferences"]["opt_outs"] == ["sms"]
    assert item["lead_score"] == 0
    response = patch(client, f"/api/contacts/{item['id']}/", {"lead_score": 99, "name": "Renamed"})
    assert response.json()["lead_score"] == 0 and response.json()["name"] == "Renamed"


@pytest.mark.parametrize(("body", "problem"), [
    ({"preferences": {"timezone": "Mars/Olympus"}}, "timezone"),
    ({"phone": "12"}, "phone"),
    ({"email": "not-an-email"}, "email"),
    ({"country": "XX"}, "country"),
    ({"preferences": {"allowed_start": "09:00"}}, "allowed_end"),
    ({"preferences": {"opt_ins": ["sms"], "opt_outs": ["sms"]}}, "sms"),
    ({"preferences": {"opt_ins": ["fax"]}}, "opt_ins"),
])
def test_contact_validation(world, client_for, body, problem):
    response = post(client_for(world.rep_a.user), "/api/contacts/", {"name": "V", **body})
    assert response.status_code == 400
    assert problem in json.dumps(response.json())


def test_owner_rules(world, client_for):
    rep, manager, manager_b = client_for(world.rep_a.user), client_for(world.manager_a.user), client_for(world.manager_b.user)
    assert post(rep, "/api/contacts/", {"name": "x", "owner": world.rep_b.id}).status_code == 400
    assert post(rep, "/api/contacts/", {"name": "x", "owner": world.rep_a.id}).status_code == 201
    assert post(manager, "/api/contacts/", {"name": "y", "owner": world.rep_b.id}).json()["owner"] == world.rep_b.id
    assert post(manager_b, "/api/contacts/", {"name": "z", "owner": world.rep_a.id}).status_code == 400
    # a rep never changes an owner (not even to drop a contact out of their own view)
    assert patch(rep, f"/api/contacts/{world.owned_a.id}/", {"owner": None}).status_code == 403
    assert Contact.objects.get(pk=world.owned_a.id).owner_id == world.rep_a.id


def test_opt_out_by_hand_and_back_in_by_a_manager_only(world, client_for):
    rep, manager = client_for(world.rep_a.user), client_for(world.manager_a.user)
    path = f"/api/contacts/{world.owned_a.id}/"
    out = patch(rep, path, {"preferences": {"opted_out": True}}).json()["preferences"]
    assert out["opted_out"] is True and out["opt_out_reason"] == "manual" and out["opted_out_at"]
    assert patch(rep, path, {"preferences": {"opted_out": False}}).status_code == 403
    assert patch(manager, path, {"preferences": {"opted_out": False}}).json()["preferences"]["opted_out"] is False


def test_a_channel_opt_out_set_through_the_api_refuses_the_send_with_a_reason(world, client_for):
    from inbox.services.outbound import dispatch_due_messages

    client = client_for(world.rep_a.user)
    contact_id = world.conv_a.contact_id
    assert patch(client, f"/api/contacts/{contact_id}/", {"preferences": {"opt_outs": ["service"]}}).status_code == 200
    sent = post(client, f"/api/conversations/{world.conv_a.id}/messages/", {"text": "Still there?"}).json()
    dispatch_due_messages(max_seconds=10)
    failed = Message.objects.get(pk=sent["id"])
    assert (failed.status, failed.error_code) == ("failed", "opted_out_channel")
    assert "service" in failed.error_title


def test_contact_delete_is_for_managers(world, client_for):
    assert client_for(world.rep_a.user).delete(f"/api/contacts/{world.owned_a.id}/").status_code == 403
    assert client_for(world.manager_b.user).delete(f"/api/contacts/{world.owned_a.id}/").status_code == 404
    assert client_for(world.manager_a.user).delete(f"/api/contacts/{world.owned_a.id}/").status_code == 204
    assert not Contact.objects.filter(pk=world.owned_a.id).exists()


def upload(client, text: str):
    return client.post("/api/contacts/import/", {"file": SimpleUploadedFile("c.csv", text.encode(), "text/csv")})


def test_csv_import_with_one_bad_row_imports_nothing_and_reports_row_and_field(world, client_for):
    before = Contact.objects.count()
    csv_text = ("name,phone,email,timezone,tags,country\n"
                "Ann,+33612340001,ann@example.com,Europe/Paris,vip;fair,FR\n"
                "Ben,0612340002,,Europe/Paris,,FR\n"
                "Cat,12,cat@example.com,Nowhere/Town,,FR\n")
    response = upload(client_for(world.rep_a.user), csv_text)
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"row": 4, "field": "phone", "error": "'12' is not a valid phone number in FR"},
        {"row": 4, "field": "timezone", "error": "unknown time zone 'Nowhere/Town' (use an IANA name like Europe/Paris)"},
    ]
    assert Contact.objects.count() == before


def test_csv_import_all_good_rows(world, client_for):
    csv_text = ("name,phone,email,timezone,tags,country\n"
                "Ann,+33612340001,ann@example.com,Europe/Paris,vip; fair,FR\n"
                "Ben,06 12 34 00 02,,,,FR\n")
    response = upload(client_for(world.rep_a.user), csv_text)
    assert response.status_code == 201 and response.json()["imported"] == 2
    ann, ben = Contact.objects.filter(pk__in=response.json()["ids"]).order_by("name")
    assert (ann.phone, ann.tags, ann.timezone, ann.country, ann.owner_id) == (
        "+33612340001", ["vip", "fair"], "Europe/Paris", "FR", world.rep_a.id)
    assert (ben.phone, ben.timezone) == ("+33612340002", "UTC")
    # the same phones again: the rows update the two contacts, named in the report, never duplicate them
    again = upload(client_for(world.rep_a.user), csv_text.replace("vip; fair", "vip; spring"))
    assert again.status_code == 201
    assert again.json() | {"ids": []} == {"imported": 0, "ids": [], "updated": 2, "updated_ids": sorted([ann.id, ben.id])}
    assert Contact.objects.filter(phone__in=["+33612340001", "+33612340002"]).count() == 2
    ann.refresh_from_db()
    assert ann.tags == ["vip", "fair", "spring"]


def test_csv_import_never_updates_nor_reveals_a_contact_outside_the_callers_scope(world, client_for):
    """Rep B's file names rep A's contact (same team), team B's contact by e-mail, a number stored
    nowhere and rep B's own contact: only the last is matched; the answer is the same for a number
    stored elsewhere as for one stored nowhere."""
    bert = Contact.objects.get(pk=world.conv_b.contact_id)
    csv_text = (f"name,phone,email\nSomeone,{world.owned_a.phone},\nOther,,{world.contact_b.email}\n"
                f"Fresh,+33612340555,\nBert K,{bert.phone},\n")
    response = upload(client_for(world.rep_b.user), csv_text)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["imported"], body["updated"], body["updated_ids"]) == (3, 1, [bert.id])
    created = Contact.objects.filter(pk__in=body["ids"])
    assert {(c.owner_id, c.team_id) for c in created} == {(world.rep_b.id, world.team_a.id)}
    assert not set(body["ids"]) & {world.owned_a.id, world.contact_b.id}
    world.owned_a.refresh_from_db()
    world.contact_b.refresh_from_db()
    assert (world.owned_a.name, world.contact_b.name) == ("Olive Owned", "Bella Beyond")


def test_csv_import_rejects_a_file_that_is_not_csv(world, client_for):
    response = upload(client_for(world.rep_a.user), "")
    assert response.status_code == 400
    response = upload(client_for(world.rep_a.user), "name,fone\nA,1\n")
    assert response.json()["errors"][0] == {"row": 1, "field": "fone",
                                            "error": "unknown column (expected some of name,phone,email,timezone,tags,country)"}
    response = client_for(world.rep_a.user).post("/api/contacts/import/", {})
    assert response.status_code == 400


# ---- constant queries ----------------------------------------------------------------------------


def count_queries(client, path: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


def grow(world, n: int) -> None:
    for i in range(n):
        conversation = make_conversation(world.rep_a, world.channel, name=f"Bulk {i}", tags=["bulk"])
        message(conversation, f"bulk pineapple {i}")
        message(world.conv_a, f"more pineapple {i}")
    Template.objects.bulk_create([Template(name=f"bulk {len(Template.objects.all())}-{i}", body="x {y}") for i in range(n)])


@pytest.mark.parametrize("path", ["/api/conversations/?page_size=100", "/api/conversations/?page_size=100&search=bulk",
                                  "CONV_MESSAGES", "/api/messages/search/?q=pineapple&page_size=100",
                                  "/api/contacts/?page_size=100", "/api/templates/?page_size=100"])
def test_list_endpoints_make_the_same_number_of_queries_for_5_or_50_rows(world, client_for, path):
    path = path.replace("CONV_MESSAGES", f"/api/conversations/{world.conv_a.id}/messages/?page_size=100")
    client = client_for(world.rep_a.user)
    grow(world, 3)
    small = count_queries(client, path)
    rows_small = len(client.get(path).json()["results"])
    grow(world, 45)
    large = count_queries(client, path)
    rows_large = len(client.get(path).json()["results"])
    assert rows_small <= 10 and rows_large >= 45
    assert small == large, (small, large)


def test_contact_escalation_preferences_round_trip(world, client):
    client.force_login(world.rep_a.user)
    contact = world.conv_a.contact
    response = client.patch(f"/api/contacts/{contact.id}/", {"preferences": {"escalation_channels": ["sms", "email"],
                                                                           "escalation_delay_hours": 48}},
                            content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["preferences"]["escalation_channels"] == ["sms", "email"]
    contact.refresh_from_db()
    assert contact.preferences["escalation_delay_hours"] == 48
    bad = client.patch(f"/api/contacts/{contact.id}/", {"preferences": {"escalation_channels": ["fax"]}},
                       content_type="application/json")
    assert bad.status_code == 400 and "escalation_channels" in bad.content.decode()
