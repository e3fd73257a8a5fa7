"""/api/operator/ routes for people and a channel's reps (admins)."""
from django.urls import path

from salesreps import operator_api as api

urlpatterns = [
    path("reps/", api.reps, name="operator-reps"),
    path("reps/<int:rep_id>/", api.rep_detail, name="operator-rep"),
    path("teams/", api.teams, name="operator-teams"),
    path("channels/<int:channel_id>/rep-channels/", api.channel_rep_channels, name="operator-channel-rep-channels"),
    path("rep-channels/<int:rep_channel_id>/", api.rep_channel_switch, name="operator-rep-channel"),
]
