"""/api/contacts/: contacts in the caller's scope (selectors.contacts_for), and the all-or-nothing CSV import."""
from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from inbox.api.common import (
    CURSOR_PARAMETERS,
    ERR_403,
    ERRORS_404,
    ERRORS_ALL,
    ID_REGEX,
    ID_SCHEMA,
    JSON_ONLY,
    KeysetPager,
    id_param,
    page_of,
    paged,
    query_dict,
)
from inbox.api.serializers import (
    ContactFiltersSerializer,
    ContactImportSerializer,
    ContactInputSerializer,
    ContactSerializer,
    DuplicateGroupSerializer,
    ImportedSerializer,
    ImportRejectedSerializer,
    MergeSerializer,
    MessageSerializer,
)
from inbox.contact_import import MAX_BYTES
from inbox.models import Contact
from inbox.selectors import contact_duplicates, contact_get, contact_list, contact_timeline
from inbox.services.contacts import (
    CONTACT_FIELDS,
    UNSET,
    ContactImportRejected,
    contact_create,
    contact_delete,
    contact_import,
    contact_update,
)
from inbox.services.merge import contact_merge_for

MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around the CSV file
PAGER = KeysetPager("created_at")
TIMELINE_PAGER = KeysetPager("created_at")
CONTACT_EXAMPLE = OpenApiExample("A contact", response_only=True, value={
    "id": 7, "name": "Ada Lovelace", "phone": "+447700900123", "email": "ada@example.com", "country": "GB",
    "operator_code": "", "tags": ["vip", "fair-2025"], "source": "import", "owner": 5, "owner_name": "Grace Hopper", "team": 2, "lead_score": 60,
    "converted": False, "last_inbound_at": "2025-03-01T09:30:00+00:00", "created_at": "2025-02-01T10:00:00+00:00",
    "preferences": {"timezone": "Europe/London", "allowed_start": "09:00:00", "allowed_end": "19:00:00",
                    "quiet_start": None, "quiet_end": None, "language": "en", "opt_ins": ["whatsapp"],
                    "opt_outs": ["sms"], "opted_out": False, "opted_out_at": None, "opt_out_reason": ""},
    "identities": [{"id": 11, "channel_id": 3, "channel_name": "WhatsApp Sales", "channel_kind": "whatsapp",
                    "external_id": "447700900123"}],
})
CONTACT_INPUT_EXAMPLE = OpenApiExample("Create", request_only=True, value={
    "name": "Ada Lovelace", "phone": "+447700900123", "email": "ada@example.com", "country": "GB", "tags": ["vip"],
    "preferences": {"timezone": "Europe/London", "allowed_start": "09:00", "allowed_end": "19:00",
                    "opt_ins": ["whatsapp"]},
})


def _shape(contact: Contact) -> dict:
    return ContactSerializer(contact).data


def _write_args(data: dict) -> dict:
    """Split validated input into the service's arguments: columns, preferences, owner, opt-out."""
    prefs = dict(data.get("preferences", {}))
    fields = {k: v for k, v in data.items() if k in CONTACT_FIELDS}
    fields.update({k: prefs.pop(k) for k in list(prefs) if k in CONTACT_FIELDS})
    opted_out = prefs.pop("opted_out", None)
    return {"fields": fields, "preferences": prefs or None, "owner_id": data.get("owner", UNSET), "opted_out": opted_out}


class ContactViewSet(viewsets.ViewSet):
    parser_classes = JSON_ONLY
    lookup_value_regex = ID_REGEX

    @extend_schema(
        summary="Contacts in the caller's scope, newest first",
        parameters=[
            OpenApiParameter("search", {"type": "string", "maxLength": 100}, description="Part of the name, phone or e-mail."),
            OpenApiParameter("tag", {"type": "string", "maxLength": 50}, description="Contacts carrying this tag."),
            OpenApiParameter("owner", ID_SCHEMA, description="Owner rep id (within the caller's scope)."),
            *CURSOR_PARAMETERS,
        ],
        responses={200: page_of(ContactSerializer), **ERRORS_ALL},
    )
    def list(self, request):
        filters = ContactFiltersSerializer(data=query_dict(request))
        filters.is_valid(raise_exception=True)
        f = filters.validated_data
        qs = contact_list(user=request.user, search=f.get("search", ""), tag=f.get("tag", ""), owner_id=f.get("owner"))
        return Response(paged(PAGER, request, qs, _shape))

    @extend_schema(parameters=[id_param()], summary="One contact", responses={200: ContactSerializer, **ERRORS_404},
                   examples=[CONTACT_EXAMPLE])
    def retrieve(self, request, pk: str):
        return Response(_shape(contact_get(user=request.user, contact_id=int(pk))))

    @extend_schema(summary="Create (owned by the caller unless an owner they manage is given)",
                   request=ContactInputSerializer, responses={201: ContactSerializer, **ERRORS_ALL},
                   examples=[CONTACT_INPUT_EXAMPLE, CONTACT_EXAMPLE])
    def create(self, request):
        body = ContactInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        contact = contact_create(user=request.user, **_write_args(body.validated_data))
        return Response(_shape(contact_get(user=request.user, contact_id=contact.id)), status=201)

    @extend_schema(
        parameters=[id_param()], summary="Replace the given fields", request=ContactInputSerializer,
        responses={200: ContactSerializer, **ERRORS_ALL},
    )
    def update(self, request, pk: str):
        return self._update(request, pk, partial=False)

    @extend_schema(
        parameters=[id_param()], summary="Change some fields", request=ContactInputSerializer(partial=True),
        responses={200: ContactSerializer, **ERRORS_ALL},
    )
    def partial_update(self, request, pk: str):
        return self._update(request, pk, partial=True)

    def _update(self, request, pk: str, *, partial: bool):
        body = ContactInputSerializer(data=request.data, partial=partial)
        body.is_valid(raise_exception=True)
        contact = contact_update(user=request.user, contact_id=int(pk), **_write_args(body.validated_data))
        return Response(_shape(contact_get(user=request.user, contact_id=contact.id)))

    @extend_schema(
        parameters=[id_param(), *CURSOR_PARAMETERS],
        summary="The person's messages on every channel, newest first (one timeline per contact)",
        responses={200: page_of(MessageSerializer), **ERRORS_ALL},
    )
    @action(detail=True, methods=["get"], url_path="timeline")
    def timeline(self, request, pk: str):
        qs = contact_timeline(user=request.user, contact_id=int(pk))
        return Response(paged(TIMELINE_PAGER, request, qs, lambda m: MessageSerializer(m).data))

    @extend_schema(
        summary="Contacts that look like one person (same phone or e-mail), for a manager to merge",
        responses={200: DuplicateGroupSerializer(many=True), **ERRORS_ALL},
    )
    @action(detail=False, methods=["get"], url_path="duplicates")
    def duplicates(self, request):
        return Response([{"key": g.key, "value": g.value, "contact_ids": list(g.contact_ids)}
                         for g in contact_duplicates(user=request.user)])

    @extend_schema(
        parameters=[id_param()], request=MergeSerializer,
        summary="Merge another contact into this one (managers, admins): identities, conversations, campaigns, consent",
        responses={200: ContactSerializer, **ERRORS_ALL},
    )
    @action(detail=True, methods=["post"], url_path="merge")
    def merge(self, request, pk: str):
        body = MergeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        record = contact_merge_for(user=request.user, keep_id=int(pk), duplicate_id=body.validated_data["duplicate"])
        return Response(_shape(contact_get(user=request.user, contact_id=record.kept_id)))

    @extend_schema(parameters=[id_param()], summary="Delete with its conversations (managers, admins)",
                   responses={204: None, **ERRORS_404})
    def destroy(self, request, pk: str):
        contact_delete(user=request.user, contact_id=int(pk))
        return Response(status=204)

    @extend_schema(
        summary="Import a CSV: all rows or none",
        description="Columns name,phone,email,timezone,tags,country (tags separated by `;`). Phones are stored in "
                    "E.164; a number without + is read in the row's country. Any bad row rejects the whole "
                    "file with every problem listed. A row matching a contact the caller sees (phone, else "
                    "e-mail) updates it; the others are created, owned by the caller's rep, in its team. "
                    "Contacts outside the caller's scope are never matched nor revealed.",
        request={"multipart/form-data": ContactImportSerializer},
        responses={
            201: ImportedSerializer,
            400: OpenApiResponse(ImportRejectedSerializer, description="Nothing imported: every problem, by row"),
            403: ERR_403,
            413: OpenApiResponse(ImportRejectedSerializer, description="The upload is larger than the 2 MB limit"),
        },
        examples=[
            OpenApiExample("Imported", response_only=True, status_codes=["201"], value={
                "imported": 2, "ids": [71, 72], "updated": 1, "updated_ids": [12]}),
            OpenApiExample("Rejected", response_only=True, status_codes=["400"], value={
                "detail": "1 problem(s) in the file: nothing was imported",
                "errors": [{"row": 3, "field": "phone", "error": "'12' is not a valid phone number in FR"}]}),
        ],
    )
    @action(detail=False, methods=["post"], url_path="import", parser_classes=[MultiPartParser])
    def import_csv(self, request):
        # Bounded before the multipart body is parsed: the declared length first, the file's own size after.
        too_big = Response({"detail": f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB: split it",
                            "errors": [{"row": 0, "field": "file", "error": f"larger than {MAX_BYTES} bytes"}]},
                           status=413)
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > MAX_BYTES + MULTIPART_OVERHEAD:
            return too_big
        upload = ContactImportSerializer(data=request.data)
        if not upload.is_valid():
            return Response({"detail": "send the CSV as the multipart field `file`",
                             "errors": [{"row": 0, "field": "file", "error": str(e)}
                                        for e in upload.errors.get("file", ["missing"])]}, status=400)
        if upload.validated_data["file"].size > MAX_BYTES:
            return too_big
        data = upload.validated_data["file"].read(MAX_BYTES + 1)
        try:
            report = contact_import(user=request.user, data=data)
        except ContactImportRejected as rejected:
            return Response({"detail": str(rejected), "errors": rejected.errors}, status=400)
        return Response({"imported": len(report.created), "ids": report.created, "updated": len(report.updated),
                         "updated_ids": report.updated}, status=201)

