"""Creating outbound messages: a conversation per (identity, sender), and queued messages
with the first entry of their history.

Messages for channels no platform lets us automate get a ManualTask here and are never offered
to a worker (docs/architecture.md, "The send route"). Nothing is checked or sent yet: the
platform rules and the sender limits are applied when a message is claimed (claim.py, gate.py).
"""

from collections.abc import Callable
from typing import Any, TypeVar

from django.db.models import QuerySet

from core.bulk import rows_insert
from outreach.channels import get_channel
from outreach.models import Conversation, ManualTask, Message, MessageEvent

T = TypeVar("T")


def conversations_for(pairs: set[tuple[int, int]]) -> dict[tuple[int, int], Conversation]:
    """Get or create one conversation per (identity_id, sender_id), in bulk."""

    def read(rows: QuerySet[Conversation]) -> dict[tuple[int, int], Conversation]:
        return {(c.identity_id, c.sender_id): c for c in rows}

    return _get_or_create(pairs, read)


def conversation_ids_for(pairs: set[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """conversations_for, ids only, for the dispatcher, which only links its messages to
    them (hundreds a batch). It inserts first and reads back only the pairs that had a
    conversation already: a batch of first messages, where most conversations are made,
    then reads nothing, and a batch of follow-ups reads what it would have read anyway (its
    pairs each cost the insert an index probe, and a sequence number left unused)."""

    def read(rows: QuerySet[Conversation]) -> dict[tuple[int, int], int]:
        return {(i, s): pk for i, s, pk in rows.values_list("identity_id", "sender_id", "id")}

    made = _insert(pairs, returning=("identity_id", "sender_id", "id"))
    found = {(i, s): pk for i, s, pk in made}
    if missing := pairs - found.keys():
        found.update(_fetch(missing, read))
    return found


def _get_or_create(
    pairs: set[tuple[int, int]], read: Callable[[QuerySet[Conversation]], dict[Any, T]]
) -> dict[tuple[int, int], T]:
    found = _fetch(pairs, read)
    if missing := pairs - found.keys():
        _insert(missing)
        found.update(_fetch(missing, read))
    return found


def _fetch(
    wanted: set[tuple[int, int]], read: Callable[[QuerySet[Conversation]], dict[Any, T]]
) -> dict[tuple[int, int], T]:
    if not wanted:
        return {}
    # Two IN lists and a filter in Python: far cheaper to build and plan than one OR term
    # per pair, and the rows that match an identity and a sender are few.
    rows = Conversation.objects.filter(
        identity_id__in={i for i, _ in wanted}, sender_id__in={s for _, s in wanted}
    )
    return {pair: c for pair, c in read(rows).items() if pair in wanted}


def _insert(pairs: set[tuple[int, int]], returning: tuple[str, ...] = ()) -> list[tuple]:
    """The conversations of these pairs that did not exist yet; a pair made meanwhile by
    another transaction is skipped (conversation_unique_pair), and read back by the caller."""
    if not pairs:
        return []
    identities, senders = zip(*pairs, strict=True)
    return rows_insert(
        Conversation,
        {"identity_id": identities, "sender_id": senders},
        returning=returning,
        ignore_conflicts=True,
    )


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


def messages_queue(columns: dict[str, list[Any]]) -> list[int]:
    """messages_create for the dispatcher, by columns (Message attnames: values) rather than
    Message instances: queued outbound messages, their first history entries and manual
    tasks, in three statements and no model built per row (core/bulk.py). Returns the
    messages' ids in the given order."""
    channels = columns["channel"]
    n = len(channels)
    manual = {ch for ch in set(channels) if not get_channel(ch).automated}
    held = [MANUAL_HOLD if ch in manual else "" for ch in channels]
    queued = [Message.Status.QUEUED] * n
    rows = rows_insert(
        Message,
        {
            **columns,
            "direction": [Message.Direction.OUTBOUND] * n,
            "status": queued,
            "hold_reason": held,
        },
    )
    ids = [pk for (pk,) in rows]
    rows_insert(MessageEvent, {"message_id": ids, "status": queued, "detail": held}, returning=())
    if manual:
        tasks = [pk for pk, ch in zip(ids, channels, strict=True) if ch in manual]
        rows_insert(ManualTask, {"message_id": tasks}, returning=())
    return ids


MANUAL_HOLD = "waiting for a rep to send it by hand"
