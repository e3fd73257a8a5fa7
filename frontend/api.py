"""GET /api/dashboard/: the manager console's team board, queue and charts (managers and admins)."""
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from frontend.selectors import MAX_DAYS, can_see_dashboard, dashboard_data


class DashboardQuery(serializers.Serializer):
    days = serializers.IntegerField(required=False, default=14, min_value=1, max_value=MAX_DAYS,
                                    help_text="How many days the charts cover.")


@extend_schema(summary="The manager dashboard's data (managers and admins)", responses={200: OpenApiTypes.OBJECT},
               parameters=[OpenApiParameter("days", int, description=f"Days the charts cover, 1 to {MAX_DAYS} (default 14).")])
@api_view(["GET"])
def dashboard(request):
    """The manager console: each rep's presence and today's capacity per channel and activity (the
    binding limit, what waits and until when), the unassigned queue, volumes and response times."""
    if not can_see_dashboard(request.user):
        raise PermissionDenied("the dashboard is for managers and admins")
    query = DashboardQuery(data=request.query_params.dict())
    query.is_valid(raise_exception=True)
    return Response(dashboard_data(user=request.user, days=query.validated_data["days"]))
