"""Sign-in throttling shared by /login/, /admin/login/ and /api/auth/token/: failed attempts are
counted per username and per client address in the Django cache (Redis, so every process shares
the counts). Once either count reaches its limit, attempts are refused without checking the
password until the window, started by the first failure, has passed.

Each attempt is counted before the password is checked and given back when it succeeds, so
parallel guesses cannot slip past the limit between a check and a count.
"""
from __future__ import annotations

import hashlib
import ipaddress
import math
import time

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle


def _networks() -> list:
    return [ipaddress.ip_network(n, strict=False) for n in settings.TRUSTED_PROXIES]


def _is_trusted(address: str, networks: list) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in n for n in networks)


def client_ip(request) -> str:
    """The caller's address: REMOTE_ADDR, or, when that is a trusted proxy, the right-most address
    in X-Forwarded-For that is not one (what the outermost trusted proxy saw). Entries a client
    writes itself sit to the left of those and are never used."""
    remote = request.META.get("REMOTE_ADDR", "")
    networks = _networks()
    if not _is_trusted(remote, networks):
        return remote
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    for address in reversed(forwarded):
        if not _is_trusted(address, networks):
            return address
    return forwarded[0] if forwarded else remote


def _limits(request, username: str) -> list[tuple[str, int]]:
    """(cache key, limit) for each counter that applies; a limit of 0 is switched off."""
    keys = []
    if settings.SIGN_IN_MAX_FAILURES_PER_USERNAME and username:
        digest = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
        keys.append((f"signin:user:{digest}", settings.SIGN_IN_MAX_FAILURES_PER_USERNAME))
    if settings.SIGN_IN_MAX_FAILURES_PER_IP:
        digest = hashlib.sha256(client_ip(request).encode()).hexdigest()[:32]
        keys.append((f"signin:ip:{digest}", settings.SIGN_IN_MAX_FAILURES_PER_IP))
    return keys


def _count(key: str, window: int, now: float) -> int:
    for _ in range(3):
        cache.add(key, 0, window)  # the window starts with the first attempt and is not extended
        cache.add(f"{key}:until", now + window, window)
        try:
            return cache.incr(key)
        except ValueError:  # expired between add and incr
            continue
    return 0


def sign_in_attempt(*, request, username: str) -> int:
    """Count one attempt; 0 if it may go ahead, else the seconds until it may."""
    window, now = settings.SIGN_IN_WINDOW_SECONDS, time.time()
    wait = 0
    for key, limit in _limits(request, username):
        if _count(key, window, now) > limit:
            until = cache.get(f"{key}:until") or now + window
            wait = max(wait, math.ceil(until - now), 1)
    return wait


def sign_in_succeeded(*, request, username: str) -> None:
    """Give back the attempt counted for a sign-in whose password was right."""
    for key, _limit in _limits(request, username):
        try:
            cache.decr(key)
        except ValueError:
            pass


REFUSED = "Too many failed sign-ins for this username or from this address."


def refusal(wait: int) -> str:
    minutes = math.ceil(wait / 60)
    when = f"{minutes} minute{'s' if minutes != 1 else ''}" if wait >= 60 else f"{wait} seconds"
    return f"{REFUSED} Try again in {when}."


class SignInThrottle(BaseThrottle):
    """DRF throttle for the token endpoint; the view calls sign_in_succeeded when the password is right."""

    def allow_request(self, request, view):
        data = request.data if hasattr(request.data, "get") else {}
        username, password = data.get("username"), data.get("password")
        if not isinstance(username, str) or not username or not password:
            return True  # no guess to count: the view answers 400
        self.seconds = sign_in_attempt(request=request, username=username)
        return not self.seconds

    def wait(self):
        return getattr(self, "seconds", None)


class _ThrottledSignIn:
    """For Django's authentication forms: the throttle runs before the password is checked."""

    def clean(self):
        username, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if not username or not password:
            return super().clean()
        wait = sign_in_attempt(request=self.request, username=username)
        if wait:
            raise forms.ValidationError(refusal(wait), code="throttled")
        try:
            return super().clean()
        finally:
            if self.user_cache is not None:  # the password was right (even if the account may not sign in here)
                sign_in_succeeded(request=self.request, username=username)


class SignInForm(_ThrottledSignIn, AuthenticationForm):
    error_messages = {**AuthenticationForm.error_messages, "invalid_login": "Your username and password didn't match."}


class AdminSignInForm(_ThrottledSignIn, AdminAuthenticationForm):
    pass
