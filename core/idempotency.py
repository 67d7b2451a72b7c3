"""Idempotency keys for API POSTs that create things.

A client that retries a POST with the same ``Idempotency-Key`` header gets the stored
response back and nothing is created twice. The row lives in the lowest app so every
app's API can use it.
"""

import hashlib
import json
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, models, transaction


class IdempotencyKey(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # Method, path and body hash: the same key reused for a different request is an error.
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "contacts_idempotencykey"  # made by contacts before core existed
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_unique_user_key")
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.status_code or 'in progress'})"


@dataclass
class Replay:
    status_code: int
    body: object


class KeyConflict(Exception):
    """Same key, different request, or the first request is still running."""


def request_fingerprint(*, method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\n".join([method.encode(), path.encode(), body])).hexdigest()


def idempotency_begin(*, user, key: str, fingerprint: str) -> Replay | None:
    """Claim the key (returns None: go ahead) or return the stored response to replay."""
    try:
        with transaction.atomic():
            IdempotencyKey.objects.create(user=user, key=key, fingerprint=fingerprint)
            return None
    except IntegrityError:
        pass
    row = IdempotencyKey.objects.get(user=user, key=key)
    if row.fingerprint != fingerprint:
        raise KeyConflict("This Idempotency-Key was used for a different request.")
    if row.status_code is None:
        raise KeyConflict("A request with this Idempotency-Key is still being processed.")
    return Replay(status_code=row.status_code, body=row.response)


def idempotency_finish(*, user, key: str, status_code: int, body: object) -> None:
    if status_code >= 500:
        # A server error created nothing worth replaying: let the client retry for real.
        IdempotencyKey.objects.filter(user=user, key=key).delete()
        return
    IdempotencyKey.objects.filter(user=user, key=key).update(
        status_code=status_code, response=json.loads(json.dumps(body, default=str))
    )
