"""/api/operator/: the admins' people endpoints (reps with their logins, teams, a channel's reps and
their sandbox switch). Everything here is for admins only; anyone else gets 403."""
from __future__ import annotations

from django.db.models import Count
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from salesreps.models import Channel, SalesRep, SalesRepChannel, Team
from salesreps.services.accounts import UNSET, rep_create, rep_update, team_create
from salesreps.services.rep_channels import rep_channel_update


class AdminOnly(BasePermission):
    message = "only admins may use the operator pages"

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_active and user.is_superuser)


def _rep(rep: SalesRep) -> dict:
    return {"id": rep.id, "username": rep.user.username, "email": rep.user.email, "full_name": rep.full_name,
            "role": rep.role, "team": rep.team_id, "team_name": rep.team.name if rep.team else None,
            "is_active": rep.user.is_active, "is_available": rep.is_available}


class RepCreateSerializer(serializers.Serializer):
    username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150,
                                      error_messages={"invalid": "use letters, digits and @ . + - _ only"})
    full_name = serializers.CharField(max_length=200)
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    role = serializers.ChoiceField(choices=SalesRep.Role.choices, default=SalesRep.Role.REP)
    team = serializers.IntegerField(required=False, allow_null=True, default=None)
    password = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False,
                                     help_text="Blank: one is generated and answered once.")


class RepUpdateSerializer(serializers.Serializer):
    full_name = serializers.CharField(max_length=200, required=False)
    role = serializers.ChoiceField(choices=SalesRep.Role.choices, required=False)
    team = serializers.IntegerField(required=False, allow_null=True)
    is_active = serializers.BooleanField(required=False)


class TeamSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)


class RepChannelSwitchSerializer(serializers.Serializer):
    sandbox = serializers.BooleanField(required=False)
    is_available = serializers.BooleanField(required=False)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("give sandbox or is_available")
        return attrs


@extend_schema(summary="Reps with their logins (admins)", request=RepCreateSerializer, responses={200: OpenApiTypes.OBJECT})
@api_view(["GET", "POST"])
@permission_classes([AdminOnly])
def reps(request):
    """GET every rep; POST creates a login and its rep, answering the initial password once."""
    if request.method == "GET":
        rows = SalesRep.objects.select_related("user", "team").order_by("full_name", "id")
        return Response({"results": [_rep(r) for r in rows]})
    body = RepCreateSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    data = body.validated_data
    rep, initial = rep_create(username=data["username"], full_name=data["full_name"], role=data["role"],
                              team_id=data["team"], email=data["email"], password=data["password"])
    return Response({**_rep(rep), "initial_password": None if data["password"] else initial}, status=201)


@extend_schema(summary="Change a rep's name, role, team or sign-in (admins)", request=RepUpdateSerializer,
               responses={200: OpenApiTypes.OBJECT})
@api_view(["PATCH"])
@permission_classes([AdminOnly])
def rep_detail(request, rep_id: int):
    get_object_or_404(SalesRep, pk=rep_id)
    body = RepUpdateSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    data = body.validated_data
    rep = rep_update(rep_id=rep_id, full_name=data.get("full_name"), role=data.get("role"),
                     team_id=data["team"] if "team" in data else UNSET, is_active=data.get("is_active"))
    return Response(_rep(SalesRep.objects.select_related("user", "team").get(pk=rep.pk)))


@extend_schema(summary="Teams (admins)", request=TeamSerializer, responses={200: OpenApiTypes.OBJECT})
@api_view(["GET", "POST"])
@permission_classes([AdminOnly])
def teams(request):
    if request.method == "GET":
        rows = Team.objects.annotate(rep_count=Count("reps")).order_by("name")
        return Response({"results": [{"id": t.id, "name": t.name, "reps": t.rep_count} for t in rows]})
    body = TeamSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    team = team_create(name=body.validated_data["name"])
    return Response({"id": team.id, "name": team.name, "reps": 0}, status=201)


def _rep_channel(rc: SalesRepChannel) -> dict:
    """rc.rep loaded with it (select_related): `zone` falls back to the rep's when the override is blank."""
    return {"id": rc.id, "rep": rc.rep_id, "rep_name": rc.rep.full_name, "sandbox": rc.sandbox,
            "is_available": rc.is_available, "max_daily_capacity": rc.max_daily_capacity, "timezone": rc.zone,
            "timezone_override": rc.timezone}


@extend_schema(summary="The reps on a channel, with their sandbox switch (admins)", responses={200: OpenApiTypes.OBJECT})
@api_view(["GET"])
@permission_classes([AdminOnly])
def channel_rep_channels(request, channel_id: int):
    channel = get_object_or_404(Channel, pk=channel_id)
    rows = SalesRepChannel.objects.filter(channel=channel).select_related("rep").order_by("rep__full_name", "id")
    return Response({"results": [_rep_channel(rc) for rc in rows]})


@extend_schema(summary="Switch a rep-channel's sandbox or availability (admins)", request=RepChannelSwitchSerializer,
               responses={200: OpenApiTypes.OBJECT})
@api_view(["PATCH"])
@permission_classes([AdminOnly])
def rep_channel_switch(request, rep_channel_id: int):
    rep_channel = get_object_or_404(SalesRepChannel, pk=rep_channel_id)
    body = RepChannelSwitchSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    rep_channel = rep_channel_update(rep_channel=rep_channel, **body.validated_data)
    return Response(_rep_channel(SalesRepChannel.objects.select_related("rep").get(pk=rep_channel.pk)))
