"""API tokens for non-browser clients (browsers use the session from /login/)."""
from __future__ import annotations

from django.contrib.auth import authenticate
from rest_framework.authtoken.models import Token

from core.logs import entity_log
from core.tokens import token_current

log = entity_log("auth")


def token_issue(*, request, username: str, password: str) -> Token:
    """The user's API token (created on first use, valid for TOKEN_TTL); ValueError says what is wrong, without telling
    which of username or password was (that would help someone guessing accounts)."""
    if not username:
        raise ValueError("username is required")
    if not password:
        raise ValueError("password is required")
    user = authenticate(request=request, username=username, password=password)
    if user is None:
        log.info("token refused", username=username[:150])
        raise ValueError("wrong username or password, or the account is disabled")
    token, created = token_current(user=user)  # an expired token is replaced
    if created:
        log.info("token created", user=user.id)
    return token
