"""Campaign API routes, included at /api/ by core/api_urls.py."""
from rest_framework.routers import SimpleRouter

from campaigns.api import CampaignViewSet

router = SimpleRouter()
router.register("campaigns", CampaignViewSet, basename="campaign")
urlpatterns = router.urls
