"""Campaign API routes, included at /api/ by core/api_urls.py."""
from django.urls import re_path
from rest_framework.routers import SimpleRouter

from campaigns.api import CampaignViewSet
from campaigns.builder_api import AudienceCountView, BuilderOptionsView
from campaigns.contact_api import ContactCampaignsView

router = SimpleRouter()
router.register("campaigns", CampaignViewSet, basename="campaign")
urlpatterns = [
    re_path(r"^contacts/(?P<contact_id>[0-9]{1,18})/campaigns/$", ContactCampaignsView.as_view(), name="contact-campaigns"),
    # Before the router: its detail route would read "audience" as a campaign id.
    re_path(r"^campaigns/audience/$", AudienceCountView.as_view(), name="campaign-audience"),
    re_path(r"^campaigns/options/$", BuilderOptionsView.as_view(), name="campaign-builder-options"),
    *router.urls,
]
