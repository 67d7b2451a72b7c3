"""Creating outbound messages: a conversation per (identity, sender), and queued messages
with the first entry of their history.

Messages for channels no platform lets us automate get a ManualTask here and are never offered
to a worker (docs/architecture.md, "The send route"). Nothing is checked or sent yet: the
platform rules and the sender limits are applied when a message is claimed (claim.py, gate.py).
"""

from collections.abc import Callable
from typing import Any, TypeVar

from django.db.models import QuerySet

from outreach.channels import get_channel
from outreach.models import Conversation, ManualTask, Message, MessageEvent

T = TypeVar("T")


def conversations_for(pairs: set[tuple[int, int]]) -> dict[tuple[int, int], Conversation]:
    """Get or create one conversation per (identity_id, sender_id), in bulk."""

    def read(rows: QuerySet[Conversation]) -> dict[tuple[int, int], Conversation]:
        return {(c.identity_id, c.sender_id): c for c in rows}

    return _get_or_create(pairs, read)


def conversation_ids_for(pairs: set[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """conversations_for, ids only. For the dispatcher, which only links its messages to
    them: reading ids instead of whole rows saves building a model per conversation
    (hundreds a batch)."""

    def read(rows: QuerySet[Conversation]) -> dict[tuple[int, int], int]:
        return {(i, s): pk for i, s, pk in rows.values_list("identity_id", "sender_id", "id")}

    return _get_or_create(pairs, read)


def _get_or_create(
    pairs: set[tuple[int, int]], read: Callable[[QuerySet[Conversation]], dict[Any, T]]
) -> dict[tuple[int, int], T]:
    if not pairs:
        return {}

    def fetch(wanted: set[tuple[int, int]]) -> dict[tuple[int, int], T]:
        # Two IN lists and a filter in Python: far cheaper to build and plan than one OR
        # term per pair, and the rows that match an identity and a sender are few.
        rows = Conversation.objects.filter(
            identity_id__in={i for i, _ in wanted}, sender_id__in={s for _, s in wanted}
        )
        return {pair: c for pair, c in read(rows).items() if pair in wanted}

    found = fetch(pairs)
    missing = pairs - found.keys()
    if missing:
        Conversation.objects.bulk_create(
            [Conversation(identity_id=i, sender_id=s) for i, s in missing], ignore_conflicts=True
        )
        found.update(fetch(missing))
    return found


def messages_create(messages: list[Message]) -> list[Message]:
    """Insert queued outbound messages, each with the first entry of its history, in bulk.

    Messages for channels no platform lets us automate get a manual task for a rep.
    """
    manual_channels = {ch for ch in {m.channel for m in messages} if not get_channel(ch).automated}
    for m in messages:
        if m.channel in manual_channels:
            m.hold_reason = MANUAL_HOLD
    created = Message.objects.bulk_create(messages)
    MessageEvent.objects.bulk_create(
        [MessageEvent(message=m, status=m.status, detail=m.hold_reason) for m in created]
    )
    manual = [ManualTask(message=m) for m in created if m.channel in manual_channels]
    if manual:
        ManualTask.objects.bulk_create(manual)
    return created


MANUAL_HOLD = "waiting for a rep to send it by hand"
