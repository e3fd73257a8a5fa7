from django.contrib import admin
from django.urls import include, path

from core import health
from core.signin import AdminSignInForm

admin.site.login_form = AdminSignInForm  # the sign-in throttle, shared with /login/ and the token endpoint

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("webhooks/", include("webhooks.urls")),
    path("api/", include("config.api_urls")),
    path("", include("frontend.urls")),
]
