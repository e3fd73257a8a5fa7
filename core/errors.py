"""Errors every layer may raise; the API turns them into clear 4xx answers (core/api.py)."""


class AccessDenied(Exception):
    """The object is outside the caller's scope (answered 404, so its existence is not told)."""
