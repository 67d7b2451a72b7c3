"""Creating outbound messages: a conversation per (identity, sender), and queued messages
with the first entry of their history.

Messages for channels no platform lets us automate get a ManualTask here and are never offered
to a worker (docs/architecture.md, "The send route"). Nothing is checked or sent yet: the
platform rules and the sender limits are applied when a message is claimed (claim.py, gate.py).
"""

from collections.abc import Callable
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS
from django.db.models import QuerySet

from core.bulk import rows_insert
from outreach.channels import get_channel
from outreach.models import Conversation, ManualTask, Message, MessageEvent

T = TypeVar("T")


def conversations_for(pairs: set[tuple[int, int]]) -> dict[tuple[int, int], Conversation]:
    """Get or create one conversation per (identity_id, sender_id), in bulk."""
    found, _ = _get_or_create(pairs)
    return found


def conversation_get_or_create(
    identity_id: int, sender_id: int, **fields: Any
) -> tuple[Conversation, bool]:
    """One conversation, and whether this call made it. A new one is inserted with `fields`
    (Conversation attnames: values) already set, so the caller needs no update after it; an
    existing one is returned as it is."""
    pair = (identity_id, sender_id)
    found, made = _get_or_create({pair}, **fields)
    return found[pair], pair in made


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


def _conversations(rows: QuerySet[Conversation]) -> dict[tuple[int, int], Conversation]:
    return {(c.identity_id, c.sender_id): c for c in rows}


# Every column of a conversation, in the model's order: what an insert returns to build the
# conversations it made (Model.from_db) instead of reading them back.
_ALL = tuple(f.attname for f in Conversation._meta.concrete_fields)


def _get_or_create(
    pairs: set[tuple[int, int]], **fields: Any
) -> tuple[dict[tuple[int, int], Conversation], set[tuple[int, int]]]:
    """The pairs' conversations, and the pairs whose conversation this call made. Read first
    (most exist), then the missing ones inserted, each returned whole by the insert; only a
    pair made meanwhile by another transaction is read again."""
    found = _fetch(pairs, _conversations)
    made: set[tuple[int, int]] = set()
    if missing := pairs - found.keys():
        rows = _insert(missing, returning=_ALL, **fields)
        for row in rows:
            conversation = Conversation.from_db(DEFAULT_DB_ALIAS, _ALL, row)
            found[(conversation.identity_id, conversation.sender_id)] = conversation
        made = missing & found.keys()
        if lost := missing - made:
            found.update(_fetch(lost, _conversations))
    return found, made


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


def _insert(
    pairs: set[tuple[int, int]], returning: tuple[str, ...] = (), **fields: Any
) -> list[tuple]:
    """The conversations of these pairs that did not exist yet, with `fields` set on each; a
    pair made meanwhile by another transaction is skipped (conversation_unique_pair), and
    read back by the caller."""
    if not pairs:
        return []
    identities, senders = zip(*pairs, strict=True)
    columns = {name: [value] * len(pairs) for name, value in fields.items()}
    return rows_insert(
        Conversation,
        {"identity_id": identities, "sender_id": senders, **columns},
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
