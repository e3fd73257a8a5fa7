"""Messages of a conversation (cursor pages, newest first), compose with an Idempotency-Key,
full-text search over the caller's conversations, and retry of a failed send."""
from __future__ import annotations

import re

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from inbox.api.common import (
    CURSOR_PARAMETERS,
    ERRORS_ALL,
    JSON_ONLY,
    KeysetPager,
    id_param,
    page_of,
    paged,
    query_dict,
)
from inbox.api.serializers import ComposeSerializer, MessageSerializer, SearchQuerySerializer
from inbox.models import Message
from inbox.selectors import conversation_messages, message_search
from inbox.services.messages import message_compose
from inbox.services.outbound import message_retry

PAGER = KeysetPager("created_at")
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,100}")  # printable ASCII, no spaces: fits Message.idempotency_key

MESSAGE_EXAMPLE = OpenApiExample("A queued message", response_only=True, value={
    "id": 901, "conversation_id": 42, "direction": "out", "status": "queued", "kind": "text",
    "body": "Yes, until Friday!", "media_url": "", "media_type": "", "external_id": "", "defer_code": "", "defer_reason": "",
    "error_code": "", "error_title": "", "latitude": None, "longitude": None,
    "created_at": "2025-03-01T09:31:02+00:00", "sender_id": 5,
})


def _shape(message: Message) -> dict:
    return MessageSerializer(message).data


class ConversationMessagesView(APIView):
    parser_classes = JSON_ONLY
    @extend_schema(
        summary="Messages of a conversation, newest first",
        parameters=[id_param("conversation_id"), *CURSOR_PARAMETERS],
        responses={200: page_of(MessageSerializer), **ERRORS_ALL},
    )
    def get(self, request, conversation_id: str):
        qs = conversation_messages(user=request.user, conversation_id=int(conversation_id))
        return Response(paged(PAGER, request, qs, _shape))

    @extend_schema(
        summary="Send a text or a template (queued; dispatch applies every sending rule)",
        parameters=[id_param("conversation_id"), OpenApiParameter(
            "Idempotency-Key", str, OpenApiParameter.HEADER,
            description="Up to 100 printable characters. Repeating a key on this conversation returns the first "
                        "message (200) instead of sending again.",
        )],
        request=ComposeSerializer,
        responses={201: MessageSerializer, 200: OpenApiResponse(MessageSerializer, description="Repeated key: the "
                   "message created the first time"), **ERRORS_ALL},
        examples=[
            OpenApiExample("Text", request_only=True, value={"text": "Yes, until Friday!"}),
            OpenApiExample("Template", request_only=True, value={"template_id": 3, "variables": {"name": "Ada"}}),
            MESSAGE_EXAMPLE,
        ],
    )
    def post(self, request, conversation_id: str):
        key = request.headers.get("Idempotency-Key", "")
        if key and not IDEMPOTENCY_KEY.fullmatch(key):
            raise ValidationError({"Idempotency-Key": ["use 1 to 100 printable characters without spaces"]})
        body = ComposeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        message, created = message_compose(
            user=request.user, conversation_id=int(conversation_id), text=data.get("text", ""),
            template_id=data.get("template_id"), variables=data.get("variables"), idempotency_key=key,
        )
        return Response(_shape(message), status=201 if created else 200)


class MessageSearchView(APIView):
    @extend_schema(
        summary="Full-text search in the caller's conversations, newest first",
        parameters=[
            OpenApiParameter("q", {"type": "string", "minLength": 1, "maxLength": 200}, required=True,
                             description="Words to find; \"a phrase\", `or` and `-word` work as in a web search."),
            *CURSOR_PARAMETERS,
        ],
        responses={200: page_of(MessageSerializer), **ERRORS_ALL},
        examples=[OpenApiExample("Found", response_only=True,
                                 value={"next": None, "results": [MESSAGE_EXAMPLE.value]})],
    )
    def get(self, request):
        params = SearchQuerySerializer(data=query_dict(request))
        params.is_valid(raise_exception=True)
        qs = message_search(user=request.user, q=params.validated_data["q"])
        return Response(paged(PAGER, request, qs, _shape))


class MessageRetryView(APIView):
    parser_classes = JSON_ONLY
    @extend_schema(parameters=[id_param("message_id")], summary="Send a failed message again through the whole path", request=None,
                   responses={200: MessageSerializer, **ERRORS_ALL})
    def post(self, request, message_id: str):
        return Response(_shape(message_retry(user=request.user, message_id=int(message_id))))
