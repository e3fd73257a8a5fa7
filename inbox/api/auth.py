"""POST /api/auth/token/ (username + password → token, for non-browser clients) and GET /api/me/."""
from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework.exceptions import Throttled
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.signin import REFUSED, SignInThrottle, sign_in_succeeded
from inbox.api.common import ERR_400, ERR_403, ErrorSerializer
from inbox.api.serializers import MeSerializer, TokenRequestSerializer, TokenSerializer
from inbox.services.auth import token_issue
from salesreps.selectors import rep_of


class TokenView(APIView):
    """Send the token back as `Authorization: Token <token>`; browsers sign in at /login/ instead."""

    authentication_classes: list = []  # no session, so no CSRF check on the way in
    permission_classes = [AllowAny]
    parser_classes = [JSONParser, FormParser]
    throttle_classes = [SignInThrottle]  # failed attempts per username and per address (core/signin.py)

    @extend_schema(
        summary="Exchange a username and password for an API token",
        request=TokenRequestSerializer,
        responses={200: TokenSerializer, 400: ERR_400,
                   429: OpenApiResponse(ErrorSerializer, description="Too many failed sign-ins: wait Retry-After seconds")},
        examples=[
            OpenApiExample("Credentials", request_only=True, value={"username": "grace", "password": "…"}),
            OpenApiExample("Token", response_only=True, value={"token": "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"}),
            OpenApiExample("Refused", response_only=True, status_codes=["400"],
                           value={"detail": "wrong username or password, or the account is disabled"}),
        ],
        auth=[],
    )
    def post(self, request):
        body = TokenRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        username = body.validated_data.get("username", "")
        token = token_issue(request=request, username=username, password=body.validated_data.get("password", ""))
        sign_in_succeeded(request=request, username=username)
        return Response({"token": token.key})

    def throttled(self, request, wait):
        raise Throttled(wait, detail=REFUSED)  # DRF adds "Expected available in N seconds." and Retry-After


class MeView(APIView):
    @extend_schema(
        summary="Who the caller is, and their rep profile if they have one",
        responses={200: MeSerializer, 403: ERR_403},
        examples=[OpenApiExample("A manager", response_only=True, value={
            "id": 12, "username": "grace", "is_superuser": False,
            "rep": {"id": 5, "full_name": "Grace Hopper", "role": "manager", "team_id": 2, "is_available": True}})],
    )
    def get(self, request):
        user, rep = request.user, rep_of(request.user)
        return Response({
            "id": user.id, "username": user.get_username(), "is_superuser": user.is_superuser,
            "rep": {"id": rep.id, "full_name": rep.full_name, "role": rep.role, "team_id": rep.team_id,
                    "is_available": rep.is_available} if rep else None,
        })
