from django.urls import path

from bench.tutorial.views import webhook

urlpatterns = [path("webhooks/whatsapp/", webhook)]
