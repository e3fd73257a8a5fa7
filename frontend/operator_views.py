"""The operator pages (admins): channels with their webhooks, people and teams, templates. Each page
is a shell the modules under static/frontend/js/operator/ fill from /api/operator/ and friends."""
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render

from salesreps.models import Channel


def admin_page(view):
    """Signed out: to the sign-in page. Signed in without admin rights: 403, with a page that says so."""
    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not (request.user.is_active and request.user.is_superuser):
            return render(request, "frontend/operator_forbidden.html", status=403)
        return view(request, *args, **kwargs)
    return wrapped


@admin_page
def home(request):
    return redirect("operator-channels")


@admin_page
def channels(request):
    return render(request, "frontend/operator_channels.html", {"section": "channels", "channel_id": ""})


@admin_page
def channel(request, channel_id: int):
    get_object_or_404(Channel, pk=channel_id)
    return render(request, "frontend/operator_channels.html", {"section": "channels", "channel_id": channel_id})


@admin_page
def people(request):
    return render(request, "frontend/operator_people.html", {"section": "people"})


@admin_page
def templates(request):
    return render(request, "frontend/operator_templates.html", {"section": "templates"})
