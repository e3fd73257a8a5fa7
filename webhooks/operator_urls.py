"""/api/operator/ routes for a channel's webhooks (admins)."""
from django.urls import path

from webhooks import api

urlpatterns = [
    path("platforms/", api.platforms, name="operator-platforms"),
    path("channels/<int:channel_id>/webhook/", api.channel_webhook, name="operator-channel-webhook"),
    path("channels/<int:channel_id>/verify-token/", api.channel_verify_token, name="operator-channel-verify-token"),
    path("channels/<int:channel_id>/test-event/", api.channel_test_event, name="operator-channel-test-event"),
    path("channels/<int:channel_id>/webhook-events/", api.channel_events, name="operator-channel-events"),
    path("webhook-events/<int:event_id>/redrive/", api.event_redrive, name="operator-event-redrive"),
]
