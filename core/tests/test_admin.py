"""The admin console: every registered model's list and add pages load for an admin, searches included."""
import pytest
from django.contrib import admin
from django.urls import reverse

from inbox.tests.factories import make_channel, make_conversation, make_rep, make_rep_channel, make_user


@pytest.fixture
def admin_client(client):
    client.force_login(make_user("root", superuser=True))
    rep, channel = make_rep(), make_channel("whatsapp", secrets={"app_secret": "top-secret-value", "access_token": "tok-123"})
    make_rep_channel(rep, channel)
    make_conversation(rep, channel)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("model", sorted(admin.site._registry, key=lambda m: m._meta.label), ids=lambda m: m._meta.label)
def test_every_admin_list_loads_with_search_and_filters(admin_client, model):
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    response = admin_client.get(url, {"q": "a"} if admin.site._registry[model].search_fields else {})
    assert response.status_code == 200
    assert b"top-secret-value" not in response.content and b"tok-123" not in response.content
    first = model._default_manager.first()
    if first is not None:
        change = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[first.pk]))
        assert change.status_code == 200
        assert b"top-secret-value" not in change.content and b"tok-123" not in change.content
