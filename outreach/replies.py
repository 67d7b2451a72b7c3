"""A person's reply in a conversation becomes a queued outbound message the engine sends."""

from django.db import transaction

from outreach.models import Conversation, Message
from outreach.services import messages_create


@transaction.atomic
def conversation_reply(
    *, conversation: Conversation, author, body: str, subject: str = ""
) -> Message:
    (message,) = messages_create(
        [
            Message(
                conversation=conversation,
                sender_id=conversation.sender_id,
                channel=conversation.sender.channel,
                direction=Message.Direction.OUTBOUND,
                status=Message.Status.QUEUED,
                subject=subject,
                body=body,
                # Meta's HUMAN_AGENT tag may only be used for messages a person wrote.
                human_written=True,
            )
        ]
    )
    return message
