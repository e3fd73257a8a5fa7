"""Fields encrypted at rest with Fernet (FIELD_ENCRYPTION_KEY; several keys allow rotation)."""
from __future__ import annotations

import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


@lru_cache(maxsize=1)
def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(k) for k in settings.FIELD_ENCRYPTION_KEYS])


def encrypt(text: str) -> str:
    return _fernet().encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ValueError("stored secret cannot be decrypted with FIELD_ENCRYPTION_KEY") from None


class EncryptedTextField(models.TextField):
    """Stores ciphertext; Python code sees plain text. Never rendered back in forms or APIs."""

    def from_db_value(self, value, expression, connection):
        return decrypt(value) if value else ""

    def get_prep_value(self, value):
        return encrypt(value) if value else ""


class EncryptedJSONField(models.TextField):
    """A dict of secrets (app secret, tokens…) stored as one encrypted JSON document."""

    def from_db_value(self, value, expression, connection):
        return json.loads(decrypt(value)) if value else {}

    def to_python(self, value):
        if isinstance(value, dict):
            return value
        return json.loads(value) if value else {}

    def get_prep_value(self, value):
        return encrypt(json.dumps(value or {})) if value else ""
