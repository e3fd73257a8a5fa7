from django.contrib.auth import views as auth_views
from django.urls import path

from core.signin import SignInForm
from frontend import views

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="frontend/login.html", authentication_form=SignInForm),
         name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("", views.inbox, name="inbox"),
]
