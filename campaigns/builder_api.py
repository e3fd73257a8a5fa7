"""GET /api/campaigns/audience/ (the live count of contacts a filter matches) and
GET /api/campaigns/options/ (what the builder offers): managers and admins, in their teams only."""
from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.api import CanManageCampaigns
from campaigns.builder import audience_preview, builder_options

MAX_ID = 2**63 - 1
LIST_HELP = "Comma-separated, or the parameter repeated."


class AudienceQuerySerializer(serializers.Serializer):
    tags_any = serializers.ListField(child=serializers.CharField(max_length=50), required=False, help_text=LIST_HELP)
    tags_all = serializers.ListField(child=serializers.CharField(max_length=50), required=False, help_text=LIST_HELP)
    operator_code = serializers.ListField(child=serializers.CharField(max_length=10), required=False, help_text=LIST_HELP)
    country = serializers.ListField(child=serializers.CharField(max_length=2), required=False, help_text=LIST_HELP)
    min_score = serializers.IntegerField(required=False, min_value=-(2**31) + 1, max_value=2**31 - 1)
    channel = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    team = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)


LISTS = ("tags_any", "tags_all", "operator_code", "country")


def _query(request) -> dict:
    """Query parameters as the serializer reads them: lists split on commas, blanks dropped."""
    data: dict = {}
    for key in request.query_params:
        values = request.query_params.getlist(key)
        if key in LISTS:
            data[key] = [part.strip() for value in values for part in value.split(",") if part.strip()]
        elif values[-1].strip():
            data[key] = values[-1].strip()
    return data


class AudienceCountView(APIView):
    permission_classes = [IsAuthenticated, CanManageCampaigns]

    @extend_schema(parameters=[AudienceQuerySerializer], responses={200: OpenApiTypes.OBJECT},
                   summary="How many of your team's contacts an audience filter matches")
    def get(self, request):
        """matching (opted-out contacts never match), opted_out, and with ?channel= the contacts
        reachable on it (opted_out_channel: those who opted out of its kind); a sample of the best leads."""
        query = AudienceQuerySerializer(data=_query(request))
        query.is_valid(raise_exception=True)
        params = dict(query.validated_data)
        team, channel = params.pop("team", None), params.pop("channel", None)
        return Response(audience_preview(user=request.user, audience=params, team_id=team, channel_id=channel))


class BuilderOptionsView(APIView):
    permission_classes = [IsAuthenticated, CanManageCampaigns]

    @extend_schema(responses={200: OpenApiTypes.OBJECT},
                   summary="What the campaign builder offers: teams, channels with reps, tags, countries")
    def get(self, request):
        return Response(builder_options(user=request.user))
