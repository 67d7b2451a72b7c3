"""API tokens, stored as SHA-256 digests: the database (and its backups) never hold a key that
works. A key is shown once, when it is made; losing it means making a new one.

`Authorization: Token <key>` as with DRF's TokenAuthentication, which kept keys in clear.
A token may expire (expires_at); an expired token, or one of an inactive user, gets 401.
Deactivating a user deletes their tokens (contacts/accounts.py, user_access_revoke).
"""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

PREFIX = "dmk_"
# last_used_at is written at most this often, not on every request.
TOUCH_EVERY = timedelta(minutes=5)


def digest_of(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text="What uses it, e.g. “CRM sync”.")
    prefix = models.CharField(max_length=12, editable=False, help_text="To recognise it.")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="Empty: never expires."
    )

    class Meta:
        db_table = "contacts_apitoken"  # made by contacts before core existed
        ordering = ["user", "-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()


def api_token_create(*, user, name: str, days: int | None = None) -> tuple[ApiToken, str]:
    """A new token for `user`, valid for `days` (None: no expiry); returns it with its key,
    which is not stored anywhere."""
    key = PREFIX + secrets.token_urlsafe(32)
    expires_at = timezone.now() + timedelta(days=days) if days else None
    token = ApiToken.objects.create(
        user=user,
        name=name[:100],
        prefix=key[: len(PREFIX) + 6],
        digest=digest_of(key),
        expires_at=expires_at,
    )
    return token, key


def api_tokens_of(user):
    """The tokens a user sees and may revoke on their tokens page: their own."""
    return ApiToken.objects.filter(user=user).order_by("-created_at")


def api_token_revoke(*, token: ApiToken) -> None:
    token.delete()


class HashedTokenAuthentication(TokenAuthentication):
    """Looks the key up by its digest; an unknown or expired key, or an inactive user, gets
    401."""

    def authenticate_credentials(self, key: str):
        token = ApiToken.objects.select_related("user").filter(digest=digest_of(key)).first()
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        if token.expired:
            raise exceptions.AuthenticationFailed("Token expired.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY:
            ApiToken.objects.filter(id=token.id).update(last_used_at=now)
        return token.user, token
