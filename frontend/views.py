from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from frontend.selectors import can_see_dashboard


@login_required
def inbox(request):
    return render(request, "frontend/inbox.html")


@login_required
def dashboard(request):
    """The manager console (managers of a team and admins); anyone else gets 403 with a page saying so."""
    if not can_see_dashboard(request.user):
        return render(request, "frontend/manager_forbidden.html", status=403)
    return render(request, "frontend/dashboard.html")
