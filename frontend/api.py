from rest_framework.decorators import api_view
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from frontend.selectors import dashboard_data, team_reps


@api_view(["GET"])
def dashboard(request):
    """The manager dashboard: team presence and capacity, the unassigned queue, volumes per day."""
    if not request.user.is_superuser and not team_reps(request.user).exists():
        raise PermissionDenied("the dashboard is for managers and admins")
    return Response(dashboard_data(user=request.user))
