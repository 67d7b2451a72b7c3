"""A send whose answer was lost (the platform accepted it, our client timed out) is settled by
the platform's own webhook when it echoes our key (WhatsApp statuses, Messenger message
echoes): sent, never resent, no review."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from outreach.models import InboundEvent, Message, SenderAccount
from outreach.sending.create import conversations_for, messages_create
from outreach.sending.deliver import message_send
from outreach.sending.reconcile import messages_reconcile
from tests import factories
from tests.channels.conftest import SECRETS
from tests.channels.helpers import deliver, platform_sender, process_all
from tests.processes import wait_for

pytestmark = pytest.mark.django_db(transaction=True)
PHONE_ID = "1234567890"


def queued_in_window(
    settings, control, live_server, channel: str, account: str, body: str, **hook
) -> Message:
    """A queued message to a contact who wrote 5 minutes ago, with a client that gives up
    after 0.5 s and the platform's webhooks pointed at the live server."""
    settings.OUTREACH_CHANNELS[channel]["OPTIONS"] = {
        **settings.OUTREACH_CHANNELS[channel]["OPTIONS"],
        "timeout": 0.5,
    }
    url = f"{live_server.url}/webhooks/{channel}/"
    control.post("webhooks", platform=channel, url=url, secret=SECRETS["meta"], **hook)
    control.post("say", platform=channel, user="555", account=account, text="hi")
    sender = platform_sender(channel, account)
    identity = factories.contact(1, channels=(channel,)).identities.get()
    identity.platform_user_id = "555"
    identity.save()
    conv = conversations_for({(identity.id, sender.id)})[(identity.id, sender.id)]
    conv.last_inbound_at = timezone.now() - timedelta(minutes=5)
    conv.save()
    [message] = messages_create(
        [
            Message(
                conversation=conv,
                sender=sender,
                channel=channel,
                direction="out",
                status="queued",
                body=body,
            )
        ]
    )
    return message


@pytest.fixture
def whatsapp_message(settings, platform_channels, control, live_server):
    return queued_in_window(
        settings, control, live_server, "whatsapp", PHONE_ID, "Here is the price list"
    )


def test_whatsapp_send_with_a_lost_answer_is_settled_as_sent_by_its_status_webhook(
    whatsapp_message, control
):
    control.post("slow", platform="whatsapp", seconds=1.5)

    assert message_send(message_id=whatsapp_message.id) == "unknown"
    whatsapp_message.refresh_from_db()
    assert whatsapp_message.status == "unknown"

    wait_for(
        lambda: InboundEvent.objects.filter(provider_event_id__endswith=":delivered").exists(),
        15,
        message="the platform's sent and delivered statuses",
    )
    process_all()
    whatsapp_message.refresh_from_db()
    [request] = control.outbox("whatsapp")
    assert request["body"]["biz_opaque_callback_data"] == str(whatsapp_message.idempotency_key)
    assert whatsapp_message.status == "delivered"
    assert whatsapp_message.provider_message_id.startswith("wamid.FAKE")
    assert whatsapp_message.hold_reason == ""
    assert SenderAccount.objects.get().inflight_message_id is None
    # Nothing left for the reconciler, and nothing was sent twice.
    assert messages_reconcile(now=timezone.now() + timedelta(hours=1)) == {
        "sent": 0,
        "requeued": 0,
        "review": 0,
        "freed": 0,
    }
    assert len(control.outbox("whatsapp")) == 1


def _status(wamid: str, key: str) -> dict:
    status = {"id": wamid, "status": "sent", "timestamp": "1700000000", "recipient_id": "555"}
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"phone_number_id": PHONE_ID},
        "statuses": [status | {"biz_opaque_callback_data": key}],
    }
    change = {"field": "messages", "value": value}
    return {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [change]}]}


def test_only_a_status_carrying_the_messages_own_key_settles_it(whatsapp_message, client):
    # A worker died after sending: the message waits for the reconciler, outcome unknown.
    Message.objects.filter(id=whatsapp_message.id).update(
        status="unknown", claimed_at=timezone.now(), attempts=1
    )
    assert deliver(client, "whatsapp", _status("wamid.A", str(uuid.uuid4()))) == 200
    assert deliver(client, "whatsapp", _status("wamid.B", "not-a-key")) == 200
    process_all()
    whatsapp_message.refresh_from_db()
    assert whatsapp_message.status == "unknown"

    key = str(whatsapp_message.idempotency_key)
    assert deliver(client, "whatsapp", _status("wamid.C", key)) == 200
    process_all()
    whatsapp_message.refresh_from_db()
    assert (whatsapp_message.status, whatsapp_message.provider_message_id) == ("sent", "wamid.C")


def test_messenger_send_with_a_lost_answer_is_settled_by_its_message_echo(
    settings, platform_channels, control, live_server
):
    message = queued_in_window(
        settings,
        control,
        live_server,
        "messenger",
        "PAGE1",
        "Our opening hours are 9 to 5",
        echoes=True,
    )
    control.post("slow", platform="messenger", seconds=1.5)

    assert message_send(message_id=message.id) == "unknown"
    wait_for(
        lambda: InboundEvent.objects.filter(provider_event_id__startswith="echo:").exists(),
        15,
        message="the page's message echo",
    )
    process_all()
    message.refresh_from_db()
    [request] = control.outbox("messenger")
    assert request["body"]["message"]["metadata"] == str(message.idempotency_key)
    assert (message.status, message.provider_message_id[:6]) == ("sent", "m_FAKE")
    assert not Message.objects.filter(direction="in", body="Our opening hours are 9 to 5")
    assert messages_reconcile(now=timezone.now() + timedelta(hours=1))["review"] == 0


def test_a_telegram_send_in_doubt_goes_to_review_at_the_next_tick_and_frees_its_sender(
    settings, platform_channels, control, live_server
):
    # The Bot API cannot read a chat's history, so no lookup can settle it: holding the
    # sender for a settle window would only delay the review (outreach/channels/telegram).
    message = queued_in_window(settings, control, live_server, "telegram", "acme_bot", "Hello")
    control.post("start", user="555")  # the contact opened the bot: it may write to them
    control.post("errors", platform="telegram", error="bad_gateway")  # did it go out?
    assert message_send(message_id=message.id) == "unknown"
    assert SenderAccount.objects.get().inflight_message_id == message.id

    assert messages_reconcile(now=timezone.now())["review"] == 1
    message.refresh_from_db()
    assert (message.status, message.hold_reason) == (
        "unknown",
        "needs review: the platform cannot confirm delivery",
    )
    assert SenderAccount.objects.get().inflight_message_id is None
    assert len(control.outbox("telegram")) <= 1  # never sent again
