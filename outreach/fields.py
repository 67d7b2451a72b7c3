"""Credentials encrypted at rest with keys from the environment (Fernet, key rotation)."""

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

PREFIX = "fernet:"


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if not keys:
        # Development default: derived from SECRET_KEY so `make run` works without setup.
        # Production sets CREDENTIALS_KEYS (see README).
        derived = base64.urlsafe_b64encode(hashlib.sha256(secret_key.encode()).digest())
        return MultiFernet([Fernet(derived)])
    try:
        return MultiFernet([Fernet(k.encode()) for k in keys])
    except ValueError:
        raise ImproperlyConfigured(
            "Unexpected value CREDENTIALS_KEYS: each key must be 32 url-safe base64 bytes "
            "(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key())')."
        ) from None


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.CREDENTIALS_KEYS), settings.SECRET_KEY)


def encrypt(value: str) -> str:
    return PREFIX + fernet().encrypt(value.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored.startswith(PREFIX):
        return stored
    try:
        return fernet().decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured(
            "Stored credentials cannot be decrypted with CREDENTIALS_KEYS: was a key removed?"
        ) from None


def mask(value: str) -> str:
    """What a human may see of a secret: enough to recognise it, never enough to use it."""
    if not value:
        return ""
    return f"…{value[-4:]}" if len(value) > 8 else "••••"


class EncryptedTextField(models.TextField):
    """Stores text encrypted; Python code sees plain text."""

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value)
