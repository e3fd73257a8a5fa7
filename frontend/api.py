from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from frontend.selectors import can_see_dashboard, dashboard_data


@extend_schema(summary="The manager dashboard's data (managers and admins)", responses={200: OpenApiTypes.OBJECT})
@api_view(["GET"])
def dashboard(request):
    """The manager dashboard: team presence and capacity, the unassigned queue, volumes per day."""
    if not can_see_dashboard(request.user):
        raise PermissionDenied("the dashboard is for managers and admins")
    return Response(dashboard_data(user=request.user))
