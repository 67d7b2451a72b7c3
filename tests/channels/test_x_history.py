"""X without the enterprise webhook API: replies are read by polling GET /2/dm_events, and a DM
whose answer was lost is looked up in the conversation's history instead of going to review.
Against the fake X over real HTTP."""

from datetime import timedelta

import pytest
from django.utils import timezone

from outreach.dmpoll import dm_poll, dm_poll_senders
from outreach.models import Message
from outreach.sending.create import conversations_for, messages_create
from outreach.sending.deliver import message_send
from outreach.sending.reconcile import messages_reconcile
from tests import factories
from tests.channels.helpers import platform_sender, process_all

pytestmark = pytest.mark.django_db
ME, ANA = "42", "555"


@pytest.fixture
def x(settings, platform_channels, control):
    settings.OUTREACH_CHANNELS["x"]["OPTIONS"] = {
        **settings.OUTREACH_CHANNELS["x"]["OPTIONS"],
        # Short enough to keep the lost-answer test quick, long enough that a loaded
        # machine never turns a normal call into a lost answer.
        "timeout": 3.0,
        "poll": True,
    }
    control.post("accounts", platform="x", id=ME, token="good-token")
    control.post("say", platform="x", user=ANA, account=ME, text="Hi, tell me more")
    sender = platform_sender("x", ME)
    identity = factories.contact(1, channels=("x",)).identities.get()
    identity.platform_user_id = ANA
    identity.save()
    conv = conversations_for({(identity.id, sender.id)})[(identity.id, sender.id)]
    conv.last_inbound_at = timezone.now() - timedelta(minutes=1)
    conv.save()
    return sender, conv


def _queued(conv, sender, body: str) -> Message:
    [message] = messages_create(
        [
            Message(
                conversation=conv,
                sender=sender,
                channel="x",
                direction="out",
                status="queued",
                body=body,
            )
        ]
    )
    return message


def post_event_id(control) -> str:
    """The DM event id X gave our DM, read from its own history."""
    history = control.client.get(
        f"{control.url}/2/dm_events", headers={"Authorization": "Bearer good-token"}
    ).json()["data"]
    return next(e["id"] for e in history if e["text"].startswith("Here is the pricing"))


def _reconcile() -> dict[str, int]:
    return messages_reconcile(now=timezone.now() + timedelta(minutes=5))


def test_x_dm_whose_answer_was_lost_is_found_in_the_history_and_recorded_once(x, control):
    sender, conv = x
    message = _queued(conv, sender, "Here is the pricing page: https://acme.example/pricing")
    control.post("slow", platform="x", seconds=4.5)

    assert message_send(message_id=message.id) == "unknown"
    assert _reconcile() == {"sent": 1, "requeued": 0, "review": 0, "freed": 0}

    message.refresh_from_db()
    [post] = control.outbox("x")
    assert message.status == "sent"
    assert message.provider_message_id == post_event_id(control)
    assert post["body"]["text"] == message.body  # X shows it with a t.co link; still found


def test_x_dm_that_never_arrived_goes_back_to_the_queue(x, control):
    sender, conv = x
    message = _queued(conv, sender, "Following up on your question")
    control.post("errors", platform="x", error="service_unavailable")

    assert message_send(message_id=message.id) == "unknown"  # a 503: maybe sent, maybe not
    assert _reconcile() == {"sent": 0, "requeued": 1, "review": 0, "freed": 0}
    message.refresh_from_db()
    assert (message.status, message.hold_reason) == (
        "queued",
        "platform confirmed it never arrived",
    )
    assert control.outbox("x") == []


def test_x_replies_are_read_by_polling_once_each(x, control):
    sender, conv = x
    assert list(dm_poll_senders()) == [sender]
    message = _queued(conv, sender, "Thanks for writing!")
    assert message_send(message_id=message.id) == "sent"

    assert dm_poll(sender=sender) == 2  # Ana's DM, and our own as an echo
    process_all()
    [reply] = Message.objects.filter(direction="in")
    assert (reply.body, reply.conversation_id) == ("Hi, tell me more", conv.id)

    control.post("say", platform="x", user=ANA, account=ME, text="Can we talk tomorrow?")
    assert dm_poll(sender=sender) == 1
    assert dm_poll(sender=sender) == 0
    process_all()
    assert list(
        Message.objects.filter(direction="in").order_by("id").values_list("body", flat=True)
    ) == ["Hi, tell me more", "Can we talk tomorrow?"]


def test_x_is_not_polled_unless_configured(settings, platform_channels):
    platform_sender("x", ME)
    assert list(dm_poll_senders()) == []
