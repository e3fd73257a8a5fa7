"""Inbox API routes, mounted under /api/ by core/api_urls.py."""
from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from inbox.api.activities import ActivitiesView, ActivityRetryView
from inbox.api.auth import MeView, TokenView
from inbox.api.common import ID_REGEX
from inbox.api.contacts import ContactViewSet
from inbox.api.conversations import ConversationViewSet
from inbox.api.media import MessageMediaView
from inbox.api.messages import ConversationMessagesView, MessageRetryView, MessageSearchView
from inbox.api.templates import TemplateViewSet

router = SimpleRouter()
router.register("conversations", ConversationViewSet, basename="conversation")
router.register("templates", TemplateViewSet, basename="template")
router.register("contacts", ContactViewSet, basename="contact")

urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="auth-token"),
    path("me/", MeView.as_view(), name="me"),
    re_path(rf"^conversations/(?P<conversation_id>{ID_REGEX})/messages/$", ConversationMessagesView.as_view(),
            name="conversation-messages"),
    path("messages/search/", MessageSearchView.as_view(), name="message-search"),
    re_path(rf"^messages/(?P<message_id>{ID_REGEX})/retry/$", MessageRetryView.as_view(), name="message-retry"),
    path("activities/", ActivitiesView.as_view(), name="activities"),
    re_path(rf"^activities/(?P<request_id>{ID_REGEX})/retry/$", ActivityRetryView.as_view(), name="activity-retry"),
    re_path(rf"^messages/(?P<message_id>{ID_REGEX})/media/$", MessageMediaView.as_view(), name="message-media"),
    *router.urls,
]
