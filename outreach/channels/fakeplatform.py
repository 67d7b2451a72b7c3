"""An HTTP channel backend for the local fake platform (fakeplatform/), used by the demo and
by the reliability tests. Its error mapping is the one every real HTTP backend follows:
refused before the request went out -> Transient; 429 -> RateLimited; 401 -> AuthExpired;
other 4xx -> Permanent; timeout after sending or 5xx -> Ambiguous (never resent blindly)."""

import httpx
from django.conf import settings

from outreach.channels.base import (
    Ambiguous,
    AuthExpired,
    BaseChannel,
    LookupResult,
    OutgoingMessage,
    Permanent,
    RateLimited,
    Transient,
)


class FakePlatformChannel(BaseChannel):
    def __init__(self, *, channel: str, **options) -> None:
        super().__init__(channel=channel, **options)
        self.base_url = options.get("base_url") or settings.FAKE_PLATFORM_URL
        # Well under SEND_GRACE, so the reconciler never looks while a request is in flight.
        timeout = options.get("timeout", min(10.0, settings.SEND_GRACE / 4))
        self.timeout = httpx.Timeout(timeout, connect=min(3.0, timeout))

    def send(self, message: OutgoingMessage) -> str:
        headers = {"Authorization": f"Bearer {message.sender_credentials or 'token'}"}
        payload = {
            "idempotency_key": message.idempotency_key,
            "sender": message.sender_handle,
            "to": message.recipient,
            "body": message.body,
            "channel": message.channel,
            "subject": message.subject,
            "attachments": message.attachments,
        }
        try:
            r = httpx.post(
                f"{self.base_url}/v1/messages", json=payload, headers=headers, timeout=self.timeout
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise Transient(f"platform unreachable: {exc}") from exc
        except httpx.HTTPError as exc:
            raise Ambiguous(f"no answer after sending: {exc}") from exc
        if r.status_code == 200:
            return r.json()["id"]
        if r.status_code == 429:
            raise RateLimited("rate limited", retry_after=float(r.headers.get("Retry-After", 60)))
        if r.status_code == 401:
            raise AuthExpired("token expired")
        if 400 <= r.status_code < 500:
            raise Permanent(f"rejected: {r.status_code} {r.text[:200]}", code=str(r.status_code))
        raise Ambiguous(f"platform error {r.status_code}")

    def lookup(self, message: OutgoingMessage) -> LookupResult:
        try:
            r = httpx.get(
                f"{self.base_url}/v1/messages",
                params={"idempotency_key": message.idempotency_key},
                timeout=self.timeout,
            )
            r.raise_for_status()
        except httpx.HTTPError:
            return LookupResult(found=None)
        data = r.json()
        return LookupResult(found=bool(data["found"]), provider_message_id=data["id"])
