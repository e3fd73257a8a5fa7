from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core.api import ws_ticket

urlpatterns = [
    path("ws-ticket/", ws_ticket, name="ws-ticket"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("", include("salesreps.urls")),
]
