"""X API v2 direct messages (CHANNELS.md section 5).

X's rules allow a DM only after the user has written to the sender, so the policy gate
holds every message until an inbound DM opened the conversation.
"""

import json
import time
from collections.abc import Mapping
from typing import Any

import httpx

from outreach import policy
from outreach.channels import http
from outreach.channels.base import (
    ALLOWED,
    Ambiguous,
    AuthExpired,
    BaseChannel,
    ChannelError,
    InboundItem,
    OutgoingMessage,
    Permanent,
    PolicyContext,
    PolicyDecision,
    PolicyWindowClosed,
    RateLimited,
    RecipientUnreachable,
)


def x_error(response: httpx.Response, *, had_written: bool) -> ChannelError:
    data = http.json_or_empty(response)
    detail = data.get("detail") or data.get("title") or ""
    if not detail and data.get("errors"):
        detail = data["errors"][0].get("message", "")
    text = f"{response.status_code} {detail or response.text[:200]}"
    tag = f"x_{response.status_code}"
    status = response.status_code
    if status == 429:
        reset = response.headers.get("x-rate-limit-reset")
        wait = max(float(reset) - time.time(), 1.0) if reset else 900.0
        return RateLimited(text, retry_after=wait, code=tag)
    if status == 401:
        return AuthExpired(text, code=tag)
    if status == 403 and "attach" in detail.lower():
        return Permanent(text, code=tag)
    if status == 403:
        # A user who wrote to us and now refuses DMs closed them or blocked us.
        cls = RecipientUnreachable if had_written else PolicyWindowClosed
        return cls(text, code=tag)
    if status == 404:
        return RecipientUnreachable(text, code=tag)
    if status >= 500:
        return Ambiguous(text, code=tag)
    return Permanent(text, code=tag)


class XChannel(BaseChannel):
    def __init__(self, *, channel: str, **options: Any) -> None:
        super().__init__(channel=channel, **options)
        self.base_url = (options.get("base_url") or "https://api.x.com").rstrip("/")
        self.consumer_secret = options.get("consumer_secret", "")
        self.timeout = float(options.get("timeout", 10.0))

    def check_policy(self, context: PolicyContext) -> PolicyDecision:
        if context.last_inbound_at is not None:
            return ALLOWED
        return policy.hold("X allows a DM only after the contact has written to you", context.now)

    def send(self, message: OutgoingMessage) -> str:
        body: dict[str, Any] = {"text": message.body} if message.body else {}
        media = [a["media_id"] for a in message.attachments if a.get("media_id")]
        if media:
            body["attachments"] = [{"media_id": media[0]}]  # X takes one per DM
        elif any(a.get("url") for a in message.attachments):
            body["text"] = " ".join(
                [message.body, *[a["url"] for a in message.attachments if a.get("url")]]
            ).strip()
        participant = message.recipient_platform_id or message.recipient
        r = http.request(
            "POST",
            f"{self.base_url}/2/dm_conversations/with/{participant}/messages",
            headers={"Authorization": f"Bearer {message.sender_credentials}"},
            json=body,
            timeout=self.timeout,
        )
        if r.status_code in (200, 201):
            return str(r.json()["data"]["dm_event_id"])
        raise x_error(r, had_written=message.last_inbound_at is not None)

    # --- inbound (Account Activity API) -----------------------------------------------

    def handshake(self, query: Mapping[str, str]) -> tuple[int, str, str] | None:
        token = query.get("crc_token")
        if token is None:
            return None
        answer = {"response_token": "sha256=" + http.hmac_b64(self.consumer_secret, token.encode())}
        return 200, json.dumps(answer), "application/json"

    def verify_signature(self, headers: Mapping[str, str], body: bytes) -> bool:
        given = headers.get("x-twitter-webhooks-signature", "")
        return bool(self.consumer_secret) and http.same(
            given, "sha256=" + http.hmac_b64(self.consumer_secret, body)
        )

    def parse_webhook(self, body: bytes) -> list[InboundItem]:
        data = json.loads(body)
        ours = str(data.get("for_user_id", ""))
        users = data.get("users") or {}
        items = []
        for event in data.get("direct_message_events") or []:
            create = event.get("message_create") or {}
            sender = str(create.get("sender_id", ""))
            ts = event.get("created_timestamp")
            if sender == ours:
                items.append(InboundItem(kind="echo", event_id=f"echo:{event.get('id')}"))
                continue
            attachment = (create.get("message_data") or {}).get("attachment") or {}
            media = attachment.get("media") or {}
            items.append(
                InboundItem(
                    kind="message",
                    event_id=str(event.get("id")),
                    account_id=ours,
                    from_id=sender,
                    from_handle=(users.get(sender) or {}).get("screen_name", ""),
                    name=(users.get(sender) or {}).get("name", ""),
                    text=(create.get("message_data") or {}).get("text", ""),
                    attachments=[
                        {"type": media.get("type", "file"), "url": media["media_url_https"]}
                    ]
                    if media.get("media_url_https")
                    else [],
                    occurred_at=int(ts) / 1000 if ts else None,
                )
            )
        for event in data.get("direct_message_mark_read_events") or []:
            last = str(event.get("last_read_event_id", ""))
            reader = str((event.get("sender_id")) or "")
            items.append(
                InboundItem(
                    kind="read",
                    event_id=f"read:{reader}:{last}",
                    account_id=ours,
                    from_id=reader,
                    refers_to=[last],
                )
            )
        return items
