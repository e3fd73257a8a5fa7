"""Fixtures for campaign tests: fast password hashing, API clients."""
import pytest
from rest_framework.test import APIClient


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # the default costs ~0.3 s per user


@pytest.fixture
def api_for():
    def make(user) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make
