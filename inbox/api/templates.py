"""/api/templates/: everyone signed in reads and previews; managers and admins write."""
from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from inbox.api.common import (
    CURSOR_PARAMETERS,
    ERRORS_404,
    ERRORS_ALL,
    ID_REGEX,
    JSON_ONLY,
    KeysetPager,
    ManagerOrAdminWrites,
    id_param,
    page_of,
    paged,
)
from inbox.api.serializers import PreviewRequestSerializer, PreviewSerializer, TemplateInputSerializer, TemplateSerializer
from inbox.models import Template
from inbox.selectors import template_get, template_list
from inbox.services.templates import template_create, template_delete, template_preview, template_update

PAGER = KeysetPager("created_at")
TEMPLATE_EXAMPLE = OpenApiExample("A template", response_only=True, value={
    "id": 3, "name": "offer_reminder", "body": "Hello {name}, your offer ends {day}.", "variables": ["name", "day"],
    "translations": {"fr": "Bonjour {name}, votre offre se termine {day}."}, "whatsapp_name": "offer_reminder",
    "whatsapp_language": "en_US", "created_at": "2025-02-01T10:00:00+00:00",
})
TEMPLATE_INPUT_EXAMPLE = OpenApiExample("Create", request_only=True, value={
    "name": "offer_reminder", "body": "Hello {name}, your offer ends {day}.",
    "translations": {"fr": "Bonjour {name}, votre offre se termine {day}."}, "whatsapp_name": "offer_reminder",
})


def _shape(template: Template) -> dict:
    return TemplateSerializer(template).data


class TemplateViewSet(viewsets.ViewSet):
    parser_classes = JSON_ONLY
    lookup_value_regex = ID_REGEX
    permission_classes = [ManagerOrAdminWrites]

    @extend_schema(summary="All templates", parameters=CURSOR_PARAMETERS,
                   responses={200: page_of(TemplateSerializer), **ERRORS_ALL})
    def list(self, request):
        return Response(paged(PAGER, request, template_list(), _shape))

    @extend_schema(parameters=[id_param()], summary="One template", responses={200: TemplateSerializer, **ERRORS_404},
                   examples=[TEMPLATE_EXAMPLE])
    def retrieve(self, request, pk: str):
        return Response(_shape(template_get(template_id=int(pk))))

    @extend_schema(summary="Create (managers, admins)", request=TemplateInputSerializer,
                   responses={201: TemplateSerializer, **ERRORS_ALL}, examples=[TEMPLATE_INPUT_EXAMPLE, TEMPLATE_EXAMPLE])
    def create(self, request):
        body = TemplateInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return Response(_shape(template_create(user=request.user, fields=dict(body.validated_data))), status=201)

    @extend_schema(
        parameters=[id_param()], summary="Replace (managers, admins)", request=TemplateInputSerializer,
        responses={200: TemplateSerializer, **ERRORS_ALL},
    )
    def update(self, request, pk: str):
        return self._update(request, pk, partial=False)

    @extend_schema(
        parameters=[id_param()], summary="Change some fields (managers, admins)", request=TemplateInputSerializer(partial=True),
        responses={200: TemplateSerializer, **ERRORS_ALL},
    )
    def partial_update(self, request, pk: str):
        return self._update(request, pk, partial=True)

    def _update(self, request, pk: str, *, partial: bool):
        body = TemplateInputSerializer(data=request.data, partial=partial)
        body.is_valid(raise_exception=True)
        template = template_update(user=request.user, template_id=int(pk), fields=dict(body.validated_data))
        return Response(_shape(template))

    @extend_schema(
        parameters=[id_param()], summary="Delete (managers, admins; refused while a campaign uses it)",
        responses={204: None, **ERRORS_ALL},
    )
    def destroy(self, request, pk: str):
        template_delete(user=request.user, template_id=int(pk))
        return Response(status=204)

    @extend_schema(
        parameters=[id_param()],
        summary="Render with variables, in a language (falls back to the body)",
        request=PreviewRequestSerializer, responses={200: PreviewSerializer, **ERRORS_ALL},
        examples=[
            OpenApiExample("Preview in French", request_only=True,
                           value={"variables": {"name": "Ada"}, "language": "fr"}),
            OpenApiExample("Missing a variable", response_only=True, value={"text": "", "missing": ["day"]}),
        ],
    )
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticated])
    def preview(self, request, pk: str):
        body = PreviewRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        text, missing = template_preview(template=template_get(template_id=int(pk)),
                                         variables=body.validated_data.get("variables", {}),
                                         language=body.validated_data.get("language", ""))
        return Response({"text": text, "missing": missing})
