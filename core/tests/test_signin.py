"""Signing in: failed attempts throttled per username and per address on /login/, /admin/login/ and
/api/auth/token/ (one count for all three); tokens that expire and die with a password change;
Django's standard password rules."""
from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.authtoken.models import Token

FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
PASSWORD = "correct horse battery staple"


@pytest.fixture
def throttle(settings, db):
    settings.PASSWORD_HASHERS = FAST_HASHERS
    settings.SIGN_IN_WINDOW_SECONDS = 600
    settings.SIGN_IN_MAX_FAILURES_PER_USERNAME = 3
    settings.SIGN_IN_MAX_FAILURES_PER_IP = 0
    return settings


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"  # counts live in the cache: no test shares one


def make_user(*, staff: bool = False):
    return get_user_model().objects.create_user(unique("user"), password=PASSWORD, is_staff=staff)


def login(client: Client, path: str, username: str, password: str, **extra):
    return client.post(path, {"username": username, "password": password}, **extra)


def token(client: Client, username: str, password: str, **extra):
    return client.post("/api/auth/token/", json.dumps({"username": username, "password": password}),
                       content_type="application/json", **extra)


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_login_refuses_even_the_right_password_after_n_failures_for_that_username(throttle):
    user, other = make_user(), make_user()
    client = Client()
    for _ in range(3):
        response = login(client, "/login/", user.username, "wrong")
        assert response.status_code == 200 and "Your username and password didn&#x27;t match." in response.text
    response = login(client, "/login/", user.username, PASSWORD)
    assert "Too many failed sign-ins for this username or from this address. Try again in 10 minutes." in response.text
    assert not signed_in(client)
    # The same count holds on the token endpoint; other accounts are not affected.
    refused = token(Client(), user.username, PASSWORD)
    assert refused.status_code == 429
    assert refused.json()["detail"].startswith("Too many failed sign-ins for this username or from this address.")
    assert 0 < int(refused.headers["Retry-After"]) <= 600
    assert not Token.objects.filter(user=user).exists()
    response = login(client, "/login/", other.username, PASSWORD)
    assert response.status_code == 302 and signed_in(client)


def test_admin_login_and_token_failures_count_towards_the_same_username(throttle):
    staff = make_user(staff=True)
    assert token(Client(), staff.username, "wrong").status_code == 400
    assert login(Client(), "/admin/login/", staff.username, "wrong").status_code == 200
    assert login(Client(), "/login/", staff.username, "wrong").status_code == 200
    client = Client()
    response = login(client, "/admin/login/", staff.username, PASSWORD)
    assert response.status_code == 200 and "Too many failed sign-ins" in response.text
    assert not signed_in(client)


def test_throttle_counts_usernames_case_insensitively(throttle):
    user = make_user()
    for variant in (user.username.upper(), f" {user.username} ", user.username.title()):
        login(Client(), "/login/", variant, "wrong")
    assert "Too many failed sign-ins" in login(Client(), "/login/", user.username, PASSWORD).text


def test_a_right_password_does_not_use_up_the_allowance(throttle):
    user = make_user()
    for _ in range(2):
        assert token(Client(), user.username, "wrong").status_code == 400
    for _ in range(5):
        assert token(Client(), user.username, PASSWORD).status_code == 200
    assert token(Client(), user.username, "wrong").status_code == 400  # the third failure
    assert token(Client(), user.username, PASSWORD).status_code == 429


def test_failures_from_one_address_throttle_it_across_usernames_and_only_it(throttle):
    throttle.SIGN_IN_MAX_FAILURES_PER_USERNAME = 0
    throttle.SIGN_IN_MAX_FAILURES_PER_IP = 3
    throttle.TRUSTED_PROXIES = ["127.0.0.1/32"]
    user = make_user()
    address, elsewhere = "203.0.113.7", "198.51.100.9"
    # The test client connects from 127.0.0.1, here the trusted proxy: the address is the one it forwards.
    via_proxy = {"HTTP_X_FORWARDED_FOR": address}
    for _ in range(3):
        assert token(Client(), unique("nobody"), "guess", **via_proxy).status_code == 400
    assert token(Client(), user.username, PASSWORD, **via_proxy).status_code == 429
    # An address the client writes itself, left of what the proxy appended, changes nothing.
    spoofed = {"HTTP_X_FORWARDED_FOR": f"192.0.2.1, {address}"}
    assert token(Client(), user.username, PASSWORD, **spoofed).status_code == 429
    assert "Too many failed sign-ins" in login(Client(), "/login/", user.username, PASSWORD, **via_proxy).text
    assert token(Client(), user.username, PASSWORD, HTTP_X_FORWARDED_FOR=elsewhere).status_code == 200


@pytest.mark.parametrize("proxies", [[], ["127.0.0.1/32"]])
def test_forwarded_for_is_ignored_from_a_caller_that_is_not_a_trusted_proxy(throttle, proxies):
    throttle.SIGN_IN_MAX_FAILURES_PER_USERNAME = 0
    throttle.SIGN_IN_MAX_FAILURES_PER_IP = 2
    throttle.TRUSTED_PROXIES = proxies
    direct = Client(REMOTE_ADDR=f"198.51.100.{77 + len(proxies)}")
    for n in range(2):
        token(direct, unique("nobody"), "guess", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    user = make_user()
    assert token(direct, user.username, PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.200").status_code == 429


def test_the_suite_signs_in_unthrottled_by_default(db, settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS
    assert settings.SIGN_IN_MAX_FAILURES_PER_USERNAME == 0 and settings.SIGN_IN_MAX_FAILURES_PER_IP == 0
    user = make_user()
    for _ in range(20):
        token(Client(), user.username, "wrong")
    assert token(Client(), user.username, PASSWORD).status_code == 200


# ---- tokens ---------------------------------------------------------------------------------------


def me(key: str):
    return Client().get("/api/me/", HTTP_AUTHORIZATION=f"Token {key}")


def test_an_expired_token_is_refused_and_a_new_one_is_issued(throttle):
    user = make_user()
    first = token(Client(), user.username, PASSWORD).json()["token"]
    assert me(first).status_code == 200
    assert token(Client(), user.username, PASSWORD).json()["token"] == first  # still valid: the same token
    ttl = throttle.TOKEN_TTL
    throttle.TOKEN_TTL = timedelta(0)
    refused = me(first)
    # 403 rather than 401: the session is the API's first authentication (DRF answers 403 then).
    assert refused.status_code == 403 and "token expired" in refused.json()["detail"]
    throttle.TOKEN_TTL = ttl
    assert me(first).json()["detail"] == "Invalid token."  # gone for good
    second = token(Client(), user.username, PASSWORD).json()["token"]
    assert second != first and me(second).status_code == 200


def test_a_token_issued_after_expiry_replaces_the_old_one(throttle):
    user = make_user()
    first = token(Client(), user.username, PASSWORD).json()["token"]
    throttle.TOKEN_TTL = timedelta(0)
    second = token(Client(), user.username, PASSWORD).json()["token"]
    assert second != first and list(Token.objects.filter(user=user).values_list("key", flat=True)) == [second]


def test_a_password_change_in_the_admin_revokes_the_users_tokens(throttle):
    user = make_user()
    key = token(Client(), user.username, PASSWORD).json()["token"]
    admin = Client()
    admin.force_login(get_user_model().objects.create_superuser(unique("root"), password=PASSWORD))
    response = admin.post(f"/admin/auth/user/{user.pk}/password/",
                          {"password1": "a brand new passphrase", "password2": "a brand new passphrase"})
    assert response.status_code == 302, response.content
    refused = me(key)
    assert refused.status_code == 403 and refused.json()["detail"] == "Invalid token."
    assert token(Client(), user.username, "a brand new passphrase").status_code == 200


def test_changing_ones_own_password_revokes_ones_tokens(throttle):
    staff = make_user(staff=True)
    key = token(Client(), staff.username, PASSWORD).json()["token"]
    client = Client()
    assert login(client, "/admin/login/", staff.username, PASSWORD).status_code == 302
    response = client.post("/admin/password_change/", {"old_password": PASSWORD, "new_password1": "another fine passphrase",
                                                       "new_password2": "another fine passphrase"})
    assert response.status_code == 302, response.content
    assert me(key).json()["detail"] == "Invalid token."
    assert signed_in(client)  # the session that changed it stays signed in, as Django does


def test_a_password_hash_upgrade_at_sign_in_keeps_the_token(throttle):
    user = make_user()  # stored with the fast hasher
    key = token(Client(), user.username, PASSWORD).json()["token"]
    throttle.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher", *FAST_HASHERS]
    assert token(Client(), user.username, PASSWORD).json()["token"] == key  # re-hashed on the way, not changed
    user.refresh_from_db()
    assert user.password.startswith("pbkdf2_sha256$") and me(key).status_code == 200


# ---- password rules -------------------------------------------------------------------------------


@pytest.mark.parametrize("password, problem", [
    ("short1", "This password is too short"),
    ("password123", "This password is too common"),
    ("80417465239", "This password is entirely numeric"),
])
def test_the_admin_refuses_weak_passwords_naming_the_rule(throttle, password, problem):
    user = make_user()
    admin = Client()
    admin.force_login(get_user_model().objects.create_superuser(unique("root"), password=PASSWORD))
    response = admin.post(f"/admin/auth/user/{user.pk}/password/", {"password1": password, "password2": password})
    assert response.status_code == 200 and problem in response.text
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_a_password_like_the_username_is_refused(throttle):
    user = get_user_model().objects.create_user("margaret.hamilton", password=PASSWORD)
    admin = Client()
    admin.force_login(get_user_model().objects.create_superuser(unique("root"), password=PASSWORD))
    response = admin.post(f"/admin/auth/user/{user.pk}/password/",
                          {"password1": "margaret.hamilton1", "password2": "margaret.hamilton1"})
    assert "The password is too similar to the username" in response.text
