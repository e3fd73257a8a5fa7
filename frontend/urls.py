from django.contrib.auth import views as auth_views
from django.urls import path

from core.signin import SignInForm
from frontend import operator_views, views

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="frontend/login.html", authentication_form=SignInForm),
         name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("operator/", operator_views.home, name="operator"),
    path("operator/channels/", operator_views.channels, name="operator-channels"),
    path("operator/channels/<int:channel_id>/", operator_views.channel, name="operator-channel"),
    path("operator/people/", operator_views.people, name="operator-people"),
    path("operator/templates/", operator_views.templates, name="operator-templates"),
    path("", views.inbox, name="inbox"),
]
