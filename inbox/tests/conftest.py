"""Fixtures for the inbox API tests."""
import pytest
from django.test import Client

from inbox.tests.api_world import build_world

FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS  # the default hasher costs ~0.3 s per user


@pytest.fixture
def world(db, fast_passwords):
    return build_world()


@pytest.fixture
def client_for():
    """A signed-in test client for a user (session auth, as the browser inbox uses)."""

    def make(user) -> Client:
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    return make
