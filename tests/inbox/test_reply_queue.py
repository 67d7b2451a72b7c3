"""A rep's reply goes on the `human` queue (config/queues.py): it is sent by a worker that
takes only that queue, while the campaign batch offered in the same dispatcher tick waits on
the `send` queue for a worker of its own."""

import pytest

from contacts.models import Identity
from outreach.inbox.services import conversation_reply
from outreach.models import Conversation, Message
from outreach.sending.create import messages_create
from tests import factories
from tests.inbox.helpers import rep
from tests.processes import child_env, dispatcher, wait_for

pytestmark = [pytest.mark.live_worker]


def conversation(n: int, sender) -> Conversation:
    contact = factories.contact(n)
    identity = Identity.objects.get(contact=contact, channel="email")
    return Conversation.objects.create(identity=identity, sender=sender)


def test_a_reps_reply_is_sent_by_the_human_worker_ahead_of_campaign_batches(
    worker_factory, log_dir
):
    worker_factory("human", concurrency=1, queues=["human"])
    anna, ben = factories.sender("Anna"), factories.sender("Ben")
    (batch,) = messages_create(
        [
            Message(
                conversation=conversation(1, ben),
                sender=ben,
                channel="email",
                direction=Message.Direction.OUTBOUND,
                status=Message.Status.QUEUED,
                subject="Hello",
                body="A campaign step",
            )
        ]
    )
    reply = conversation_reply(
        conversation=conversation(2, anna), author=rep("olga"), body="Happy to talk on Tuesday."
    )
    disp = dispatcher("dispatcher", child_env(), log_dir, interval=0.3)
    try:
        wait_for(
            lambda: Message.objects.get(id=reply.id).status == "sent",
            30,
            message="the rep's reply to go out",
        )
    finally:
        disp.stop()
    batch.refresh_from_db()
    # Offered in the same tick, it waits on the `send` queue, which no worker here takes.
    assert (batch.status, batch.enqueued_at is not None) == ("queued", True)
