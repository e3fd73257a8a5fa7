"""/api/campaigns/: CRUD of drafts, start / pause / resume / cancel, stats and recipients.
Managers and admins only: a rep gets 403; a campaign of another team is 404."""
from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response

from campaigns.models import Campaign, CampaignRecipient
from campaigns.selectors import campaign_recipients, campaign_stats, campaigns_for, can_manage_campaigns
from campaigns.serializers import (
    CampaignSerializer,
    CampaignWriteSerializer,
    HeldSerializer,
    RecipientSerializer,
    StartedSerializer,
    StatsSerializer,
)
from campaigns.services import campaigns as services
from campaigns.services.campaigns import CampaignNotFound


class CanManageCampaigns(BasePermission):
    message = "only managers and admins run campaigns"

    def has_permission(self, request, view) -> bool:
        return can_manage_campaigns(request.user)


class Pages(LimitOffsetPagination):
    default_limit = 50
    max_limit = 500


class CampaignViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [IsAuthenticated, CanManageCampaigns]
    serializer_class = CampaignSerializer
    pagination_class = Pages

    def get_queryset(self) -> QuerySet[Campaign]:
        return campaigns_for(self.request.user).select_related("channel", "template").prefetch_related("steps", "slots", "reps").order_by("-id")

    def _shaped(self, campaign_id: int) -> dict:
        return CampaignSerializer(self.get_queryset().get(pk=campaign_id)).data

    @extend_schema(request=CampaignWriteSerializer, responses={201: CampaignSerializer})
    def create(self, request):
        serializer = CampaignWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        campaign = services.campaign_create(user=request.user, data=serializer.validated_data)
        return Response(self._shaped(campaign.id), status=status.HTTP_201_CREATED)

    @extend_schema(request=CampaignWriteSerializer, responses=CampaignSerializer)
    def partial_update(self, request, pk=None):
        campaign = self.get_object()
        serializer = CampaignWriteSerializer(campaign, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        self._call(services.campaign_update, campaign_id=campaign.id, data=serializer.validated_data)
        return Response(self._shaped(campaign.id))

    @extend_schema(request=CampaignWriteSerializer, responses=CampaignSerializer)
    def update(self, request, pk=None):
        campaign = self.get_object()
        serializer = CampaignWriteSerializer(campaign, data=request.data)
        serializer.is_valid(raise_exception=True)
        data = {"steps": [], "slots": [], "reps": [], **serializer.validated_data}
        self._call(services.campaign_update, campaign_id=campaign.id, data=data)
        return Response(self._shaped(campaign.id))

    def destroy(self, request, pk=None):
        campaign = self.get_object()
        self._call(services.campaign_delete, campaign_id=campaign.id)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @staticmethod
    def _call(service, **kwargs):
        try:
            return service(**kwargs)
        except CampaignNotFound as exc:
            raise NotFound(str(exc)) from None

    @extend_schema(request=None, responses={200: StartedSerializer})
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        campaign = self.get_object()
        result = self._call(services.campaign_start, campaign_id=campaign.id)
        return Response({"campaign": self._shaped(campaign.id), "plan": {
            "scheduled": result.scheduled, "skipped": result.skipped, "reasons": result.reasons,
            "per_rep": {str(k): v for k, v in result.per_rep.items()}, "excluded": result.excluded}})

    def _held(self, service, campaign: Campaign) -> Response:
        held = self._call(service, campaign_id=campaign.id)
        return Response({"campaign": self._shaped(campaign.id), "messages": held})

    @extend_schema(request=None, responses={200: HeldSerializer})
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        return self._held(services.campaign_pause, self.get_object())

    @extend_schema(request=None, responses={200: HeldSerializer})
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        return self._held(services.campaign_resume, self.get_object())

    @extend_schema(request=None, responses={200: HeldSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._held(services.campaign_cancel, self.get_object())

    @extend_schema(responses={200: StatsSerializer})
    @action(detail=True, methods=["get"])
    def stats(self, request, pk=None):
        return Response(campaign_stats(self.get_object()))

    @extend_schema(responses={200: RecipientSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def recipients(self, request, pk=None):
        """The campaign's recipients, best leads first, each with `why` it waits or was skipped;
        ?state= and ?step= filter, ?limit= and ?offset= page."""
        campaign = self.get_object()
        state = request.query_params.get("state", "")
        if state and state not in CampaignRecipient.State.values:
            raise ValidationError({"state": f"{state!r} is not a recipient state: {', '.join(CampaignRecipient.State.values)}"})
        step = request.query_params.get("step", "")
        rows = campaign_recipients(campaign, state=state, step=int(step) if step.isdigit() and len(step) < 5 else None)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(RecipientSerializer(page, many=True, context={"now": timezone.now()}).data)
