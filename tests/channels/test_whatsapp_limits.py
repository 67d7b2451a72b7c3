"""WhatsApp's own limits, through the fake Cloud API: 131049 (Meta limits marketing messages
to a person) waits 24 h for that message alone and is tried once more; 131026 (not on
WhatsApp) is not retried and suppresses the number; marketing templates to +1 are refused."""

from datetime import timedelta

import pytest
from django.utils import timezone

from contacts.services import suppressions_matching
from outreach.models import InboundEvent, Message, SenderAccount
from outreach.sending.deliver import message_send
from tests.channels.conftest import SECRETS
from tests.channels.helpers import process_all
from tests.channels.test_policy import _queued
from tests.processes import wait_for

pytestmark = pytest.mark.django_db
MARKETING = {"type": "template", "name": "spring_offer", "language": "en_US"}
MARKETING |= {"category": "MARKETING"}


def _template_message(recipient: str, category: str = "MARKETING", wa_id="555") -> Message:
    message = _queued(
        "whatsapp",
        platform_id=wa_id,
        last_inbound=timezone.now() - timedelta(days=2),
        attachments=[MARKETING | {"category": category}],
    )
    identity = message.conversation.identity
    identity.value = recipient
    identity.save()
    return message


def _retry_now(message: Message) -> None:
    Message.objects.filter(id=message.id).update(not_before=timezone.now())


def test_131049_waits_24_hours_for_that_person_only_then_is_tried_once_more(
    platform_channels, control
):
    control.post("errors", platform="whatsapp", error="ecosystem_cap", times=2)
    message = _template_message("+4915112345678")
    before = timezone.now()
    assert message_send(message_id=message.id) == "queued"
    message.refresh_from_db()
    assert "Meta limits how many marketing messages this person receives" in message.hold_reason
    assert message.error_code == "whatsapp_131049"
    wait = message.not_before - before
    assert timedelta(hours=23, minutes=59) < wait < timedelta(hours=24, minutes=1)
    sender = SenderAccount.objects.get(id=message.sender_id)
    assert sender.backoff_until is None or sender.backoff_until < timezone.now()
    assert message_send(message_id=message.id) == "skipped"  # not before the 24 h are over
    _retry_now(message)
    assert message_send(message_id=message.id) == "failed"  # refused again: given up
    message.refresh_from_db()
    assert message.status == "failed" and "131049" in message.error_reason


def test_131049_once_then_the_retry_after_24_hours_goes_out(platform_channels, control):
    control.post("errors", platform="whatsapp", error="ecosystem_cap", times=1)
    control.post("users", platform="whatsapp", id="555")
    message = _template_message("+4915112345678")
    assert message_send(message_id=message.id) == "queued"
    _retry_now(message)
    assert message_send(message_id=message.id) == "sent"


def test_131026_is_not_retried_and_the_number_is_suppressed_for_whatsapp(
    platform_channels, control
):
    control.post("errors", platform="whatsapp", error="undeliverable", times=1)
    message = _template_message("+4915112345678")
    assert message_send(message_id=message.id) == "failed"
    message.refresh_from_db()
    assert message.error_reason.startswith("not reachable on WhatsApp (131026")
    assert suppressions_matching("+4915112345678", "whatsapp").exists()


def test_a_marketing_template_to_a_us_number_is_refused_with_the_reason(platform_channels, control):
    message = _template_message("+14155550100")
    assert message_send(message_id=message.id) == "skipped"
    message.refresh_from_db()
    assert message.status == "failed"
    assert "marketing templates to US (+1) numbers" in message.error_reason
    assert control.outbox("whatsapp") == []
    utility = _template_message("+14155550199", category="UTILITY", wa_id="556")
    control.post("users", platform="whatsapp", id="556")
    assert message_send(message_id=utility.id) == "sent"


@pytest.mark.django_db(transaction=True)
def test_a_late_131049_status_holds_the_message_24_hours_after_the_failure_then_sends_it_once_more(
    platform_channels, control, live_server
):
    url = f"{live_server.url}/webhooks/whatsapp/"
    control.post("webhooks", platform="whatsapp", url=url, secret=SECRETS["meta"])
    # Meta accepts the template, then says by status that this person got too many.
    control.post("users", platform="whatsapp", id="555", marketing_limited=1)
    message = _template_message("+4915112345678")
    assert message_send(message_id=message.id) == "sent"
    wait_for(
        lambda: InboundEvent.objects.filter(provider_event_id__endswith=":failed").exists(),
        15,
        message="the platform's failed status",
    )
    process_all()
    message.refresh_from_db()
    failed_at = InboundEvent.objects.get(provider_event_id__endswith=":failed").received_at
    assert message.status == "queued" and message.error_code == "whatsapp_131049"
    assert message.hold_reason.startswith(
        "Meta limits how many marketing messages this person receives (131049): tried once more"
    )
    wait = message.not_before - failed_at
    assert timedelta(hours=23, minutes=59) < wait < timedelta(hours=24, minutes=1)
    assert message_send(message_id=message.id) == "skipped"  # not before the 24 h are over
    assert len(control.outbox("whatsapp")) == 1
    _retry_now(message)
    assert message_send(message_id=message.id) == "sent"
    assert len(control.outbox("whatsapp")) == 2
    message.refresh_from_db()
    assert message.status in ("sent", "delivered") and message.hold_reason == ""


@pytest.mark.django_db(transaction=True)
def test_a_second_late_131049_fails_the_message_with_the_reason(
    platform_channels, control, live_server
):
    url = f"{live_server.url}/webhooks/whatsapp/"
    control.post("webhooks", platform="whatsapp", url=url, secret=SECRETS["meta"])
    control.post("users", platform="whatsapp", id="555", marketing_limited=2)
    message = _template_message("+4915112345678")
    for n, outcome in ((1, "queued"), (2, "failed")):
        if n == 2:
            _retry_now(message)
        assert message_send(message_id=message.id) == "sent"
        wait_for(
            lambda n=n: (
                InboundEvent.objects.filter(provider_event_id__endswith=":failed").count() == n
            ),
            15,
            message=f"failed status {n}",
        )
        process_all()
        message.refresh_from_db()
        assert message.status == outcome
    assert "Meta limits how many marketing messages" in message.error_reason
