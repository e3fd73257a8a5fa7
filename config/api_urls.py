from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core.api import ws_ticket
from frontend.api import dashboard

urlpatterns = [
    path("ws-ticket/", ws_ticket, name="ws-ticket"),
    path("dashboard/", dashboard, name="dashboard-data"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("", include("campaigns.urls")),
    path("", include("inbox.urls")),
    path("", include("salesreps.urls")),
    path("operator/", include("webhooks.operator_urls")),  # the operator pages' endpoints (admins)
    path("operator/", include("salesreps.operator_urls")),
]
