"""Saves in the Django admin go through inbox services, so the sockets hear of them."""
import pytest

from core.models import UserEvent
from inbox.models import Conversation, Message
from inbox.tests.factories import make_channel, make_conversation, make_rep


@pytest.mark.django_db
def test_reassigning_in_the_admin_tells_both_reps(admin_client, django_capture_on_commit_callbacks):
    channel = make_channel()
    old, new = make_rep(), make_rep()
    conversation = make_conversation(old, channel)
    data = {"contact": conversation.contact_id, "channel": channel.id, "rep": new.id, "status": "open", "unread_count": 0,
            "last_message_preview": "", "messages-TOTAL_FORMS": "0", "messages-INITIAL_FORMS": "0",
            "messages-MIN_NUM_FORMS": "0", "messages-MAX_NUM_FORMS": "0"}
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/admin/inbox/conversation/{conversation.id}/change/", data)
    assert response.status_code == 302, response.content[:2000]
    assert Conversation.objects.get(pk=conversation.pk).rep_id == new.id
    for rep in (old, new):
        assert UserEvent.objects.filter(user=rep.user, name="conversation.assigned").count() == 1


@pytest.mark.django_db
def test_deleting_messages_in_the_admin_goes_through_the_service(admin_client):
    conversation = make_conversation(make_rep(), make_channel())
    message = Message.objects.create(conversation=conversation, channel=conversation.channel, direction="in", status="received")
    response = admin_client.post("/admin/inbox/message/", {"action": "delete_selected", "_selected_action": [message.id], "post": "yes"})
    assert response.status_code == 302
    assert not Message.objects.filter(pk=message.pk).exists()
