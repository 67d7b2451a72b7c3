"""A message's history: one MessageEvent per change of status, with the reason.

Every step of the send route writes here in the same transaction as the change it explains
(docs/architecture.md, "The send route"), so the history never tells of a change that was
rolled back.
"""

from outreach.models import Message, MessageEvent


def event(message: Message | int, status: str, detail: str = "") -> None:
    mid = message if isinstance(message, int) else message.id
    MessageEvent.objects.create(message_id=mid, status=status, detail=detail[:300])
