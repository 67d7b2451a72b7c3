import json

from fakeplatform.platforms import meta_signature, x_signature
from outreach.inbound import inbound_event_process
from outreach.models import InboundEvent
from tests.channels.conftest import SECRETS


def post_webhook(client, channel: str, body: bytes, headers: dict | None = None):
    return client.post(
        f"/webhooks/{channel}/", data=body, content_type="application/json", headers=headers or {}
    )


def signed_headers(channel: str, body: bytes) -> dict[str, str]:
    if channel in ("messenger", "instagram", "whatsapp"):
        return {"X-Hub-Signature-256": meta_signature(SECRETS["meta"], body)}
    if channel == "x":
        return {"x-twitter-webhooks-signature": x_signature(SECRETS["x"], body)}
    if channel == "telegram":
        return {"X-Telegram-Bot-Api-Secret-Token": SECRETS["telegram"]}
    return {"X-Webhook-Secret": SECRETS["email"]}


def deliver(client, channel: str, payload) -> int:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return post_webhook(client, channel, body, signed_headers(channel, body)).status_code


def process_all() -> list[str]:
    """What the Celery task does for each stored event (workers are tested end to end)."""
    waiting = InboundEvent.objects.filter(processed_at=None, quarantined_at=None)
    ids = waiting.order_by("id").values_list("id", flat=True)
    return [inbound_event_process(event_id=i) for i in ids]


def platform_sender(channel: str, handle: str, credentials: str = "good-token"):
    from tests import factories

    s = factories.sender(f"{channel} sender", channel=channel)
    s.handle, s.credentials = handle, credentials
    s.save(update_fields=["handle", "credentials"])
    return s
