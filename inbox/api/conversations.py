"""GET /api/conversations/ (filtered, cursor pages), detail, assign, status and read."""
from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from inbox.api.common import (
    CURSOR_PARAMETERS,
    ERRORS_404,
    ERRORS_ALL,
    ID_REGEX,
    ID_SCHEMA,
    JSON_ONLY,
    KeysetPager,
    id_param,
    page_of,
    paged,
    query_dict,
)
from inbox.api.serializers import (
    AssignSerializer,
    ConversationCountsSerializer,
    ConversationDetailSerializer,
    ConversationFiltersSerializer,
    ConversationSerializer,
    StatusSerializer,
)
from inbox.models import Conversation
from inbox.payloads import reply_window_payload
from inbox.selectors import contact_channels, conversation_counts, conversation_list, conversation_reply_window
from inbox.services.conversations import (
    conversation_assign,
    conversation_get_for,
    conversation_mark_read,
    conversation_mark_unread,
    conversation_set_status,
)

PAGER = KeysetPager("last_message_at", nullable=True)

CONVERSATION_EXAMPLE = OpenApiExample("A conversation", response_only=True, value={
    "id": 42, "contact_id": 7, "contact_name": "Ada Lovelace", "channel_id": 3, "channel_kind": "whatsapp",
    "rep_id": 5, "status": "open", "unread_count": 2, "last_message_at": "2025-03-01T09:30:00+00:00",
    "last_message_preview": "Is the offer still on?", "last_inbound_at": "2025-03-01T09:30:00+00:00",
    "snoozed_until": None, "created_at": "2025-02-27T16:02:11+00:00",
    "contact": {"id": 7, "name": "Ada Lovelace", "phone": "+447700900123", "email": "", "lead_score": 60,
                "tags": ["vip"]},
    "channel": {"id": 3, "name": "WhatsApp Sales", "kind": "whatsapp"},
    "rep": {"id": 5, "full_name": "Grace Hopper"},
})
DETAIL_EXAMPLE = OpenApiExample("A conversation, in detail", response_only=True, value={
    **CONVERSATION_EXAMPLE.value,
    "contact_channels": [{"channel_id": 3, "channel_kind": "whatsapp", "external_id": "447700900123",
                          "conversation_id": 42, "conversation_status": "open"}],
    "reply_window": {"applies": True, "open": True, "last_inbound_at": "2025-03-01T09:30:00+00:00",
                     "closes_at": "2025-03-02T09:30:00+00:00"},
})
FILTER_PARAMETERS = [
    OpenApiParameter("status", str, enum=Conversation.Status.values),
    OpenApiParameter("channel", ID_SCHEMA, description="Channel id."),
    OpenApiParameter("rep", {"type": "string", "pattern": "^(none|[0-9]{1,18})$"},
                     description="Rep id, or `none` for unassigned. Narrows the caller's scope, never widens it."),
    OpenApiParameter("unread", bool, description="true: only conversations with unread messages."),
    OpenApiParameter("search", {"type": "string", "maxLength": 100},
                     description="Part of the contact's name, phone or e-mail."),
]


def _shape(conversation: Conversation) -> dict:
    return ConversationSerializer(conversation).data


class ConversationViewSet(viewsets.ViewSet):
    parser_classes = JSON_ONLY
    lookup_value_regex = ID_REGEX

    @extend_schema(
        summary="List the caller's conversations, newest activity first",
        parameters=FILTER_PARAMETERS + CURSOR_PARAMETERS,
        responses={200: page_of(ConversationSerializer), **ERRORS_ALL},
        examples=[OpenApiExample("A page", response_only=True, value={
            "next": "https://switchboard.example/api/conversations/?cursor=WyIyMDI1LTAzLTAxVDA5OjMwOjAwKzAwOjAwIiwgNDJd",
            "results": [CONVERSATION_EXAMPLE.value]})],
    )
    def list(self, request):
        filters = ConversationFiltersSerializer(data=query_dict(request))
        filters.is_valid(raise_exception=True)
        f = filters.validated_data
        rep = f.get("rep")
        qs = conversation_list(
            user=request.user, status=f.get("status"), channel_id=f.get("channel"),
            rep_id=int(rep) if rep and rep != "none" else None, unassigned=rep == "none",
            unread=f.get("unread"), search=f.get("search", ""),
        )
        return Response(paged(PAGER, request, qs, _shape))

    @extend_schema(
        parameters=[id_param()],
    summary="One conversation, with every channel its contact is known on and WhatsApp's 24-hour window",
        responses={200: ConversationDetailSerializer, **ERRORS_404},
        examples=[DETAIL_EXAMPLE],
    )
    def retrieve(self, request, pk: str):
        conversation = conversation_get_for(user=request.user, conversation_id=int(pk))
        return Response({**_shape(conversation),
                         "contact_channels": contact_channels(user=request.user, contact_id=conversation.contact_id),
                         "reply_window": reply_window_payload(conversation_reply_window(conversation))})

    @extend_schema(
        parameters=[id_param()],
        summary="Assign to a rep (managers within their team, admins anywhere), or unassign with null",
        request=AssignSerializer, responses={200: ConversationSerializer, **ERRORS_ALL},
        examples=[OpenApiExample("Assign", request_only=True, value={"rep_id": 5}),
                  OpenApiExample("Unassign", request_only=True, value={"rep_id": None})],
    )
    @action(detail=True, methods=["post"])
    def assign(self, request, pk: str):
        body = AssignSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        conversation = conversation_assign(user=request.user, conversation_id=int(pk),
                                           rep_id=body.validated_data["rep_id"])
        return Response(_shape(conversation))

    @extend_schema(
        parameters=[id_param()],
        summary="Open, pend, resolve or snooze",
        request=StatusSerializer, responses={200: ConversationSerializer, **ERRORS_ALL},
        examples=[OpenApiExample("Resolve", request_only=True, value={"status": "resolved"}),
                  OpenApiExample("Snooze", request_only=True,
                                 value={"status": "snoozed", "snoozed_until": "2025-03-02T08:00:00Z"})],
    )
    @action(detail=True, methods=["post"], url_path="status")
    def set_status(self, request, pk: str):
        body = StatusSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        conversation = conversation_set_status(user=request.user, conversation_id=int(pk),
                                               status=body.validated_data["status"],
                                               snoozed_until=body.validated_data.get("snoozed_until"))
        return Response(_shape(conversation))

    @extend_schema(
        parameters=[id_param()], summary="Mark every message read", request=None, responses={200: ConversationSerializer, **ERRORS_404},
    )
    @action(detail=True, methods=["post"])
    def read(self, request, pk: str):
        return Response(_shape(conversation_mark_read(user=request.user, conversation_id=int(pk))))

    @extend_schema(
        parameters=[id_param()], summary="Mark unread: the conversation counts as unread until read again", request=None,
        responses={200: ConversationSerializer, **ERRORS_404},
    )
    @action(detail=True, methods=["post"])
    def unread(self, request, pk: str):
        return Response(_shape(conversation_mark_unread(user=request.user, conversation_id=int(pk))))

    @extend_schema(
        summary="How many of the caller's conversations are unread, and how many are in each status",
        responses={200: ConversationCountsSerializer, **ERRORS_404},
    )
    @action(detail=False, methods=["get"])
    def counts(self, request):
        return Response(conversation_counts(user=request.user))
