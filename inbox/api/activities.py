"""/api/activities/: request a rep-channel activity (a like, a comment, a broadcast…), list the
requests in the caller's scope with their state and reason, retry a failed one."""
from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from inbox.api.common import CURSOR_PARAMETERS, ERRORS_ALL, JSON_ONLY, KeysetPager, id_field, id_param, paged, query_dict
from inbox.api.messages import IDEMPOTENCY_KEY
from inbox.selectors import activity_requests_for
from inbox.services.activities import activity_payload, activity_request_create, activity_request_retry

PAGER = KeysetPager("created_at")
STATUSES = ["queued", "deferred", "sending", "done", "failed"]
ACTIVITY = inline_serializer("Activity", {
    "id": serializers.IntegerField(), "rep_channel_id": serializers.IntegerField(), "activity": serializers.CharField(),
    "target": serializers.CharField(), "status": serializers.ChoiceField(choices=STATUSES),
    "defer_code": serializers.CharField(), "defer_reason": serializers.CharField(), "error_code": serializers.CharField(),
    "error_title": serializers.CharField(), "due_at": serializers.DateTimeField(allow_null=True),
    "performed_at": serializers.DateTimeField(allow_null=True),
})


class ActivityRequestSerializer(serializers.Serializer):
    rep_channel = id_field()
    activity = serializers.SlugField(max_length=50)
    target = serializers.CharField(max_length=2000, trim_whitespace=False)
    text = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class ActivityFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=STATUSES, required=False)
    rep_channel = id_field(required=False)


class ActivitiesView(APIView):
    parser_classes = JSON_ONLY

    @extend_schema(summary="Activity requests in your scope, newest first",
                   parameters=[OpenApiParameter("status", str, enum=STATUSES), OpenApiParameter("rep_channel", int), *CURSOR_PARAMETERS],
                   responses={200: inline_serializer("ActivityPage", {"next": serializers.CharField(allow_null=True),
                                                                      "results": serializers.ListField(child=ACTIVITY)}),
                              **ERRORS_ALL})
    def get(self, request):
        params = ActivityFilterSerializer(data=query_dict(request))
        params.is_valid(raise_exception=True)
        qs = activity_requests_for(request.user)
        if "status" in params.validated_data:
            qs = qs.filter(status=params.validated_data["status"])
        if "rep_channel" in params.validated_data:
            qs = qs.filter(rep_channel_id=params.validated_data["rep_channel"])
        return Response(paged(PAGER, request, qs, activity_payload))

    @extend_schema(
        summary="Queue an activity: the same rules as messages decide when it is performed",
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER,
                                     description="Repeating a key on this rep-channel returns the first request (200).")],
        request=ActivityRequestSerializer,
        responses={201: ACTIVITY, 200: OpenApiResponse(ACTIVITY, description="Repeated key"), **ERRORS_ALL},
        examples=[OpenApiExample("Like a post", request_only=True,
                                 value={"rep_channel": 7, "activity": "like", "target": "https://instagram.com/p/abc"})],
    )
    def post(self, request):
        key = request.headers.get("Idempotency-Key", "")
        if key and not IDEMPOTENCY_KEY.fullmatch(key):
            raise ValidationError({"Idempotency-Key": ["use 1 to 100 printable characters without spaces"]})
        body = ActivityRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        activity, created = activity_request_create(user=request.user, rep_channel_id=data["rep_channel"], activity=data["activity"],
                                                    target=data["target"], text=data["text"], idempotency_key=key)
        return Response(activity_payload(activity), status=201 if created else 200)


class ActivityRetryView(APIView):
    parser_classes = JSON_ONLY

    @extend_schema(summary="Queue a failed activity again", parameters=[id_param("request_id")], request=None,
                   responses={200: ACTIVITY, **ERRORS_ALL})
    def post(self, request, request_id: str):
        return Response(activity_payload(activity_request_retry(user=request.user, request_id=int(request_id))))
