"""API tokens that end: each is valid for TOKEN_TTL from its creation, and a password change
revokes every token of the account (as Django already does for the account's other sessions)."""
from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed


def token_expired(token: Token) -> bool:
    return token.created <= timezone.now() - settings.TOKEN_TTL


def token_current(*, user) -> tuple[Token, bool]:
    """The user's unexpired token, or a new one in place of an expired one: (token, created)."""
    token = Token.objects.filter(user=user).first()
    if token is not None and not token_expired(token):
        return token, False
    if token is not None:
        Token.objects.filter(pk=token.pk).delete()
    try:
        with transaction.atomic():
            return Token.objects.create(user=user), True
    except IntegrityError:  # a concurrent request made it first (one token per user)
        return Token.objects.get(user=user), False


class ExpiringTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>`, refused once the token is older than TOKEN_TTL."""

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if token_expired(token):
            token.delete()
            raise AuthenticationFailed("token expired: ask POST /api/auth/token/ for a new one")
        return user, token


class RevokeApiTokensOnPasswordChange:
    """Listed in AUTH_PASSWORD_VALIDATORS for its `password_changed` hook, which Django calls from
    the user's save() after every set_password(): the admin's forms, `changepassword`, any view or
    service. It validates nothing."""

    def validate(self, password, user=None):
        return None

    def password_changed(self, password, user=None):
        if user is not None and user.pk is not None:
            Token.objects.filter(user=user).delete()

    def get_help_text(self):
        return "Changing the password signs out the account's API tokens."
