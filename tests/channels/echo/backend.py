"""Echo's backend: POST /send with the bot's token; webhooks are JSON signed with
X-Echo-Signature (hex HMAC-SHA256 of the body)."""

import json
from collections.abc import Mapping
from typing import Any

from outreach.channels import http
from outreach.channels.base import (
    BaseChannel,
    InboundItem,
    OutgoingMessage,
    Permanent,
    RecipientUnreachable,
)
from tests.channels.echo import WEBHOOK_KEY


class EchoChannel(BaseChannel):
    def __init__(self, *, channel: str, base_url: str = "", **options: Any) -> None:
        super().__init__(channel=channel, **options)
        self.base_url = base_url.rstrip("/")

    def send(self, message: OutgoingMessage) -> str:
        r = http.request(
            "POST",
            f"{self.base_url}/send",
            headers={"Authorization": f"Bearer {message.sender_credentials}"},
            json={"to": message.recipient, "text": message.body, "key": message.idempotency_key},
        )
        if r.status_code == 404:
            raise RecipientUnreachable(r.text)
        if r.status_code != 200:
            raise Permanent(f"echo answered {r.status_code}: {r.text[:200]}")
        return str(r.json()["id"])

    def verify_signature(self, headers: Mapping[str, str], body: bytes) -> bool:
        return http.same(headers.get("X-Echo-Signature", ""), http.hmac_hex(WEBHOOK_KEY, body))

    def parse_webhook(self, body: bytes) -> list[InboundItem]:
        event = json.loads(body)
        return [
            InboundItem(
                kind="message",
                event_id=event["id"],
                account_id=event["to"],
                from_id=event["from"],
                from_handle=event["from"],
                text=event["text"],
                message_id=event["id"],
                refers_to=[event["reply_to"]] if event.get("reply_to") else [],
            )
        ]
