"""/api/channels/, /api/reps/ (with me/ and <id>/today/), /api/reps/<id>/channels/, /shifts/ and /schedule/."""
from django.urls import path
from rest_framework.routers import SimpleRouter

from salesreps.api import ChannelViewSet, RepChannelViewSet, RepScheduleView, RepViewSet, ShiftViewSet

router = SimpleRouter()
router.register("channels", ChannelViewSet, basename="channel")
router.register("reps", RepViewSet, basename="rep")

_collection = {"get": "list", "post": "create"}
_item = {"get": "retrieve", "put": "update", "patch": "partial_update"}
_shift = {**_item, "delete": "destroy"}

urlpatterns = [
    *router.urls,
    path("reps/<int:rep_pk>/channels/", RepChannelViewSet.as_view(_collection), name="rep-channel-list"),
    path("reps/<int:rep_pk>/channels/<int:pk>/", RepChannelViewSet.as_view(_item), name="rep-channel-detail"),
    path("reps/<int:rep_pk>/shifts/", ShiftViewSet.as_view(_collection), name="rep-shift-list"),
    path("reps/<int:rep_pk>/shifts/<int:pk>/", ShiftViewSet.as_view(_shift), name="rep-shift-detail"),
    path("reps/<int:rep_pk>/schedule/", RepScheduleView.as_view(), name="rep-schedule"),
]
