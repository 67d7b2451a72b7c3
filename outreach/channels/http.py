"""What every HTTP backend shares: the request that separates "not sent" from "maybe sent",
and the webhook signature arithmetic."""

import base64
import hashlib
import hmac
from typing import Any

import httpx

from outreach.channels.base import Ambiguous, Transient

_client: httpx.Client | None = None


def client() -> httpx.Client:
    """One pooled client per process (created after a Celery fork): building one per
    request reloads the CA bundle and reconnects every time."""
    global _client
    if _client is None:
        _client = httpx.Client()
    return _client


def request(method: str, url: str, *, timeout: float = 10.0, **kwargs: Any) -> httpx.Response:
    try:
        return client().request(
            method, url, timeout=httpx.Timeout(timeout, connect=min(3.0, timeout)), **kwargs
        )
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise Transient(f"platform unreachable: {exc}") from exc
    except httpx.HTTPError as exc:
        # The request may have been processed: the reconciler decides, never a blind resend.
        raise Ambiguous(f"no answer after sending: {exc}") from exc


def json_or_empty(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def hmac_b64(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def same(a: str, b: str) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())
