"""/api/operator/ for a channel's webhooks (admins): the URL and verify token to paste into the
platform, a signed test event posted to our own endpoint, the last stored events and their re-drive."""
from __future__ import annotations

import secrets

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from platforms import ADAPTERS, get_adapter
from salesreps.models import Channel
from salesreps.operator_api import AdminOnly
from salesreps.services.channels import channel_update
from webhooks import pipeline, samples
from webhooks.models import WebhookEvent
from webhooks.public_url import HostNotAllowed, webhook_url
from webhooks.selectors import channel_webhook_events, channel_webhook_info

TEST_TEXT = "Test event from Switchboard's channel page"


def _public_url(request, platform: str) -> str:
    """The URL the platform must call, worked out as the endpoint does for a request (PUBLIC_BASE_URL,
    else this request's scheme and host, forwarded ones believed from TRUSTED_PROXIES only)."""
    meta = request.META
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        return webhook_url(scheme=request._get_scheme(), host=meta.get("HTTP_HOST") or request.get_host(),
                           path=samples.WEBHOOK_PATH.format(platform=platform), query="",
                           client_ip=meta.get("REMOTE_ADDR"), headers=headers)
    except HostNotAllowed:
        return samples.public_webhook_url(platform, host=request.get_host())


def _loopback(request) -> str:
    """This server's own address, as the ASGI server reports its listening socket."""
    name, port = request.META.get("SERVER_NAME", ""), request.META.get("SERVER_PORT", "")
    if not port or not port.isdigit():
        raise ValidationError({"detail": "this server does not listen on a TCP port it can post to"})
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(name, name)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@extend_schema(summary="What each platform's channel needs: its secrets and routing key (admins)",
               responses={200: OpenApiTypes.OBJECT})
@api_view(["GET"])
@permission_classes([AdminOnly])
def platforms(request):
    return Response({"results": [{
        "kind": name, "secret_names": list(adapter.secret_names), "signing_secret_names": list(adapter.signing_secret_names),
        "handshake_secret_names": list(adapter.handshake_secret_names),
        "routing_key": samples.ROUTING_KEY_NAMES.get(name, "optional: the channel's name routes its events"),
    } for name, adapter in ADAPTERS.items()]})


def _channel(channel_id: int) -> Channel:
    return get_object_or_404(Channel, pk=channel_id)


@extend_schema(summary="The webhook URL and verify-token state to paste into the platform (admins)",
               responses={200: OpenApiTypes.OBJECT})
@api_view(["GET"])
@permission_classes([AdminOnly])
def channel_webhook(request, channel_id: int):
    channel = _channel(channel_id)
    return Response(channel_webhook_info(channel=channel, url=_public_url(request, channel.kind)))


@extend_schema(summary="Generate a new verify token, answered once (admins; Meta channels)", request=None,
               responses={200: OpenApiTypes.OBJECT})
@api_view(["POST"])
@permission_classes([AdminOnly])
def channel_verify_token(request, channel_id: int):
    """Secrets are never read back: the new token is in this answer only; paste it into the platform."""
    channel = _channel(channel_id)
    names = get_adapter(channel.kind).handshake_secret_names
    if not names:
        raise ValidationError({"detail": f"{channel.kind} has no verify-token handshake"})
    token = secrets.token_urlsafe(24)
    channel_update(channel=channel, secrets={names[0]: token})
    return Response({"verify_token": token})


class TestEventSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=4096, required=False, default=TEST_TEXT)


@extend_schema(summary="Sign a sample inbound message with the channel's secret and post it to our endpoint (admins)",
               request=TestEventSerializer, responses={200: OpenApiTypes.OBJECT})
@api_view(["POST"])
@permission_classes([AdminOnly])
def channel_test_event(request, channel_id: int):
    """What the endpoint answered (ok, status_code, detail, event_id); the event then shows in the
    channel's event list, and its message in the inbox, like the platform's own."""
    channel = _channel(channel_id)
    body = TestEventSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    host = request.get_host()
    try:
        sample = samples.sample_build(channel=channel, text=body.validated_data["text"], host=host)
    except samples.SampleError as exc:
        raise ValidationError({"detail": str(exc)}) from None
    delivery = samples.sample_post(sample=sample, base_url=_loopback(request), host=host)
    return Response({"ok": delivery.ok, "status_code": delivery.status_code, "detail": delivery.detail,
                     "event_id": delivery.event_id, "answer": delivery.answer, "signed_url": sample.signed_url})


@extend_schema(summary="The channel's last stored webhook events, with its platform's unrouted ones (admins)",
               responses={200: OpenApiTypes.OBJECT})
@api_view(["GET"])
@permission_classes([AdminOnly])
def channel_events(request, channel_id: int):
    channel = _channel(channel_id)
    raw = request.query_params.get("limit", "20")
    if not raw.isdigit() or not 1 <= int(raw) <= 200:
        raise ValidationError({"limit": "limit must be a whole number from 1 to 200"})
    return Response({"results": channel_webhook_events(channel=channel, limit=int(raw))})


@extend_schema(summary="Process an unrouted or failed webhook event again (admins)", request=None,
               responses={200: OpenApiTypes.OBJECT})
@api_view(["POST"])
@permission_classes([AdminOnly])
def event_redrive(request, event_id: int):
    try:
        pipeline.event_redrive(event_id=event_id)
    except WebhookEvent.DoesNotExist:
        raise NotFound(f"no webhook event {event_id}") from None
    except pipeline.NotRedrivable as exc:
        return Response({"detail": str(exc)}, status=409)
    event = WebhookEvent.objects.get(pk=event_id)
    return Response({"id": event.id, "state": event.state, "error": event.error, "channel": event.channel_id})
