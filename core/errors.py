"""Errors every layer may raise; the API turns them into clear 4xx answers (core/api.py)."""
from django.db import IntegrityError, transaction


class AccessDenied(Exception):
    """The object is outside the caller's scope (answered 404, so its existence is not told)."""


def save_unique(instance, *, constraint: str, taken: Exception) -> None:
    """Save in a savepoint; a violation of the named unique constraint (a racer won) raises `taken`,
    the same clear error the caller's pre-check gives."""
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError as exc:
        if constraint in str(exc):
            raise taken from None
        raise
