"""GET /api/messages/<id>/media/: a message's attachment, served by the app (inbox.media)."""
from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from inbox.api.common import ERRORS_404, id_param
from inbox.media import MediaUnavailable, media_fetch


class MessageMediaView(APIView):
    @extend_schema(
        parameters=[id_param("message_id")],
        summary="The message's attachment (image, audio, video, document), fetched from the platform by the app",
        responses={200: OpenApiResponse(OpenApiTypes.BINARY, description="The file; types the browser must not run "
                                        "are sent as application/octet-stream to download"),
                   502: OpenApiResponse(OpenApiTypes.OBJECT, description="The platform did not hand the file over"),
                   **ERRORS_404},
    )
    def get(self, request, message_id: str):
        try:
            media = media_fetch(user=request.user, message_id=int(message_id))
        except MediaUnavailable as exc:
            return Response({"detail": str(exc)}, status=502)
        response = HttpResponse(media.content, content_type=media.content_type)
        disposition = "inline" if media.inline else "attachment"
        safe_name = "".join(c for c in media.filename if c.isalnum() or c in "._-") or "attachment"
        response["Content-Disposition"] = f'{disposition}; filename="{safe_name}"'
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        response["Cache-Control"] = "private, max-age=3600"
        return response
