"""REST endpoints for channels, reps, their channels and shifts: parse, call one service, shape.

Scope: a rep sees only themselves, a manager their team, an admin everyone; a rep outside the
caller's scope answers 404 (as if it did not exist), a permitted read but forbidden write 403."""
from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from salesreps import services
from salesreps.models import Channel, SalesRep, SalesRepChannel, WorkingShift
from salesreps.selectors import can_manage, capacity_warnings, rep_of, rep_schedule, rep_today, reps_for
from salesreps.serializers import (
    AvailabilitySerializer,
    ChannelSerializer,
    RepChannelAnswerSerializer,
    RepChannelSerializer,
    RepSerializer,
    ScheduleSerializer,
    ShiftSerializer,
)


class AdminWritesOthersRead(BasePermission):
    def has_permission(self, request, view):
        return request.method in SAFE_METHODS or bool(request.user and request.user.is_superuser)


class ChannelViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                     mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Channels: everyone signed in reads (secrets never shown); admins create and change.
    No delete: a channel's conversations and ledger hang off it; set is_active false instead."""

    queryset = Channel.objects.prefetch_related("activities").order_by("name")
    serializer_class = ChannelSerializer
    permission_classes = [IsAuthenticated, AdminWritesOthersRead]
    lookup_value_regex = r"\d+"

    def perform_create(self, serializer):
        serializer.instance = services.channel_create(**serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.channel_update(channel=serializer.instance, **serializer.validated_data)


def _me_payload(rep: SalesRep) -> dict:
    rep_channels = (SalesRepChannel.objects.filter(rep=rep).select_related("channel", "rep")
                    .prefetch_related("activities__activity").order_by("channel__name", "id"))
    return {
        **RepSerializer(rep).data,
        "channels": RepChannelSerializer(rep_channels, many=True).data,
        "today": rep_today(rep=rep),
    }


class RepViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = RepSerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return reps_for(self.request.user).select_related("user", "team").order_by("full_name", "id")

    @action(detail=False, methods=["get", "patch"], url_path="me")
    def me(self, request):
        """Your profile, your channels and today's figures; PATCH {"is_available": …, "channel_id"?: …}
        toggles availability (globally, or on one channel) and tells your managers."""
        rep = rep_of(request.user)
        if rep is None:
            raise NotFound("you are not a sales rep")
        if request.method == "PATCH":
            serializer = AvailabilitySerializer(data=request.data, context={"rep": rep})
            serializer.is_valid(raise_exception=True)
            services.rep_set_availability(
                rep=rep, available=serializer.validated_data["is_available"],
                channel_id=serializer.validated_data.get("channel_id"),
            )
            rep = SalesRep.objects.select_related("user", "team").get(pk=rep.pk)
        return Response(_me_payload(rep))

    @action(detail=True, methods=["get"])
    def today(self, request, pk=None):
        return Response(rep_today(rep=self.get_object()))


class _RepScoped:
    """Views under /api/reps/<rep_pk>/…: the rep must be in the caller's scope (else 404);
    writes need can_manage (else 403)."""

    def rep(self) -> SalesRep:
        if not hasattr(self, "_rep"):
            self._rep = get_object_or_404(reps_for(self.request.user), pk=self.kwargs["rep_pk"])
        return self._rep

    def check_write(self) -> None:
        if not can_manage(self.request.user, self.rep()):
            raise PermissionDenied("only admins and the rep's managers may change this")


@extend_schema_view(update=extend_schema(responses=RepChannelAnswerSerializer),
                    partial_update=extend_schema(responses=RepChannelAnswerSerializer))
class RepChannelViewSet(_RepScoped, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                        mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """A rep's channels. No delete: the capacity ledger hangs off them; set is_available false."""

    serializer_class = RepChannelSerializer

    def get_queryset(self):
        return (SalesRepChannel.objects.filter(rep=self.rep()).select_related("channel", "rep")
                .prefetch_related("activities__activity").order_by("channel__name", "id"))

    def perform_create(self, serializer):
        self.check_write()
        serializer.instance = services.rep_channel_create(rep=self.rep(), **serializer.validated_data)

    def perform_update(self, serializer):
        self.check_write()
        serializer.instance = services.rep_channel_update(rep_channel=serializer.instance, **serializer.validated_data)

    def update(self, request, *args, **kwargs):
        """The answer also carries `warnings`: a cap at or below today's use means no more of that
        activity today (the capacity check refuses them; nothing done today is undone)."""
        response = super().update(request, *args, **kwargs)
        rep_channel = SalesRepChannel.objects.select_related("rep").get(pk=response.data["id"])
        response.data["warnings"] = capacity_warnings(rep_channel=rep_channel)
        return response


class ShiftViewSet(_RepScoped, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                   mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """A rep's working shifts (split shifts by number, windows crossing midnight, days off)."""

    serializer_class = ShiftSerializer

    def get_queryset(self):
        return WorkingShift.objects.filter(rep=self.rep()).order_by("date", "number")

    def perform_create(self, serializer):
        self.check_write()
        serializer.instance = services.shift_create(rep=self.rep(), **serializer.validated_data)

    def perform_update(self, serializer):
        self.check_write()
        serializer.instance = services.shift_update(shift=serializer.instance, **serializer.validated_data)

    def destroy(self, request, *args, **kwargs):
        """Take the date override off (the week applies that date again). A shift that activities
        were recorded against stays, no longer planned (200 with it); otherwise 204."""
        shift = self.get_object()
        self.check_write()
        if services.shift_delete(shift=shift) == "unplanned":
            return Response(self.get_serializer(WorkingShift.objects.get(pk=shift.pk)).data)
        return Response(status=204)


class RepScheduleView(_RepScoped, APIView):
    """GET/PUT /api/reps/<rep_pk>/schedule/: the rep's weekly schedule as one document (time zone,
    weekly windows, time off; the team's holiday calendar read-only) with what it means today.
    PUT replaces timezone, week and time_off at once; it never touches dated shifts or the ledger."""

    @extend_schema(responses=ScheduleSerializer, summary="A rep's weekly schedule and what it means today")
    def get(self, request, rep_pk=None):
        return Response(ScheduleSerializer(rep_schedule(rep=self.rep())).data)

    @extend_schema(request=ScheduleSerializer, responses=ScheduleSerializer, summary="Replace a rep's weekly schedule")
    def put(self, request, rep_pk=None):
        rep = self.rep()
        self.check_write()
        serializer = ScheduleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rep = services.rep_schedule_set(rep=rep, **serializer.validated_data)
        return Response(ScheduleSerializer(rep_schedule(rep=rep)).data)
