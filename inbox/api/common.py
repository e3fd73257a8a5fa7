"""Pieces every inbox endpoint shares: keyset cursor pages, id fields, error shapes, role checks."""
from __future__ import annotations

import base64
import binascii
import json
from functools import cache

from django.db.models import F, Q, QuerySet
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema_serializer
from rest_framework import permissions, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.utils.urls import replace_query_param

from salesreps.selectors import is_manager_or_admin

MAX_ID = 2**63 - 1
ID_REGEX = r"[0-9]{1,18}"  # URL ids: digits only, never past bigint (no 500 on a huge number)


ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": 10**18 - 1}


def id_param(name: str = "id") -> OpenApiParameter:
    return OpenApiParameter(name, ID_SCHEMA, OpenApiParameter.PATH)


def id_field(**kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


def query_dict(request) -> dict[str, str]:
    """Query parameters as a plain dict (last value wins): a QueryDict would make DRF read a missing
    boolean as False."""
    return request.query_params.dict()


# JSON bodies only (the import takes multipart): a form body would be documented, and fuzzed, for nothing.
JSON_ONLY = [JSONParser]


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


ERR_400 = OpenApiResponse(OpenApiTypes.OBJECT, description="Invalid input: {detail} or {field: [problems]}")
ERR_403 = OpenApiResponse(ErrorSerializer, description="Not signed in, or the role may not do this")
ERR_404 = OpenApiResponse(ErrorSerializer, description="Not found, or not in the caller's scope")
ERRORS = {403: ERR_403}
ERRORS_404 = {403: ERR_403, 404: ERR_404}
ERRORS_ALL = {400: ERR_400, 403: ERR_403, 404: ERR_404}


class ManagerOrAdminWrites(permissions.BasePermission):
    """Everyone signed in reads; managers and admins write (services check again)."""

    message = "only managers and admins may change this"

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        return is_manager_or_admin(request.user)


# ---- keyset cursor pages ------------------------------------------------------------------------

CURSOR_PARAMETERS = [
    OpenApiParameter("cursor", {"type": "string", "maxLength": 200}, description="Opaque cursor from a previous page's `next`."),
    OpenApiParameter("page_size", {"type": "integer", "minimum": 1, "maximum": 100},
                     description="Items per page, 1 to 100 (default 25)."),
]


class PageQuerySerializer(serializers.Serializer):
    cursor = serializers.CharField(required=False, max_length=200)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=100, default=25)


class KeysetPager:
    """Cursor pagination on (field DESC, id DESC): stable under inserts, one query per page.

    A nullable `field` keeps PostgreSQL's order for DESC (NULLs first), the order its index holds."""

    def __init__(self, field: str, *, nullable: bool = False):
        self.field, self.nullable = field, nullable

    def order(self, qs: QuerySet) -> QuerySet:
        return qs.order_by(F(self.field).desc(nulls_first=True) if self.nullable else f"-{self.field}", "-id")

    def _decode(self, cursor: str):
        try:
            raw = json.loads(base64.urlsafe_b64decode(cursor.encode() + b"=" * (-len(cursor) % 4)))
            value, last_id = raw
            when = None if value is None else parse_datetime(value)
            if (value is not None and when is None) or (value is None and not self.nullable):
                raise ValueError
            if not isinstance(last_id, int) or isinstance(last_id, bool) or not 0 < last_id <= MAX_ID:
                raise ValueError
            return when, last_id
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
            raise ValidationError({"cursor": ["invalid cursor: use the `next` link of a previous page"]}) from None

    @staticmethod
    def _encode(value, last_id: int) -> str:
        raw = json.dumps([value.isoformat() if value is not None else None, last_id]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def page(self, request, qs: QuerySet) -> tuple[list, str | None]:
        """The current page's rows and the absolute URL of the next page (None on the last)."""
        params = PageQuerySerializer(data=query_dict(request))
        params.is_valid(raise_exception=True)
        size, cursor = params.validated_data["page_size"], params.validated_data.get("cursor")
        qs = self.order(qs)
        if cursor:
            when, last_id = self._decode(cursor)
            if when is None:
                qs = qs.filter(Q(**{f"{self.field}__isnull": True, "id__lt": last_id}) | Q(**{f"{self.field}__isnull": False}))
            else:
                qs = qs.filter(Q(**{f"{self.field}__lt": when}) | Q(**{self.field: when, "id__lt": last_id}))
        rows = list(qs[: size + 1])
        if len(rows) <= size:
            return rows, None
        rows = rows[:size]
        last = rows[-1]
        token = self._encode(getattr(last, self.field), last.id)
        return rows, replace_query_param(request.build_absolute_uri(), "cursor", token)


@cache
def page_of(item: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The schema of one page of `item`s: {"next": url | null, "results": [...]}."""
    name = item.__name__.removesuffix("Serializer") + "PageSerializer"
    # many=False: list actions of a ViewSet would otherwise be documented as an array of pages
    return extend_schema_serializer(many=False)(type(name, (serializers.Serializer,), {
        "next": serializers.URLField(allow_null=True, help_text="The next page, or null on the last one."),
        "results": item(many=True),
        "__module__": item.__module__,
    }))


def paged(pager: KeysetPager, request, qs: QuerySet, shape) -> dict:
    rows, next_url = pager.page(request, qs)
    return {"next": next_url, "results": [shape(row) for row in rows]}
