from django.urls import path

from webhooks.views import webhook

urlpatterns = [path("<str:platform>/", webhook, name="webhook")]
