"""Shared API pieces: the error shape and the websocket ticket endpoint."""
from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import AccessDenied
from core.ws_auth import ticket_issue


def exception_handler(exc, context):
    """Service errors become clear 4xx: ValueError → 400, AccessDenied → 404, Django validation → 400."""
    if isinstance(exc, AccessDenied):
        return Response({"detail": str(exc)}, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, DjangoValidationError):
        exc = ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    elif isinstance(exc, ValueError):
        return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)


class TicketSerializer(serializers.Serializer):
    ticket = serializers.CharField()
    expires_in = serializers.IntegerField()


@extend_schema(request=None, responses={201: TicketSerializer}, summary="A websocket ticket")
@api_view(["POST"])
def ws_ticket(request):
    """A single-use ticket for /ws/inbox/?ticket=…, valid 60 s, bound to the caller."""
    ticket = ticket_issue(user=request.user)

    return Response({"ticket": ticket.key, "expires_in": settings.WS_TICKET_TTL_SECONDS}, status=201)

