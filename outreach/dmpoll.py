"""Reply detection by polling, for DM platforms whose webhooks a team cannot get (X's Account
Activity API is enterprise-only; docs/channels.md#x).

The cursor is the newest DM event id seen (X ids grow with time), kept in the sender's
MailboxCursor.last_uid like an IMAP UID. Events are stored through the same path as the
webhook's, unique on the platform's event id, and the cursor moves in the same transaction,
so a crash re-reads at most one poll and a webhook that also arrives changes nothing.
"""

from typing import Protocol, cast

from django.db import transaction
from django.utils import timezone

from outreach.channels import get_channel
from outreach.channels.base import InboundItem
from outreach.inbound.store import inbound_items_store
from outreach.models import MailboxCursor, SenderAccount

POLLING_CHANNELS = ("x",)


class PollingChannel(Protocol):
    """A backend that can poll (outreach/channels/x/backend.py), its `polls` option on."""

    def poll(
        self, *, account: str, credentials: str, after: int
    ) -> tuple[list[InboundItem], int]: ...


def dm_poll_senders():
    """Senders on a channel whose backend is configured to poll."""
    channels = [c for c in POLLING_CHANNELS if getattr(_backend(c), "polls", False)]
    return SenderAccount.objects.filter(channel__in=channels, paused=False)


def _backend(channel: str):
    try:
        return get_channel(channel)
    except LookupError:
        return None


def dm_poll(*, sender: SenderAccount) -> int:
    """Store the DMs that arrived since the last poll; returns how many were new.
    Raises ChannelError when the platform refused (the next tick tries again)."""
    cursor, _ = MailboxCursor.objects.get_or_create(sender=sender)
    # dm_poll_senders() gives only senders whose backend polls.
    backend = cast(PollingChannel, get_channel(sender.channel))
    items, newest = backend.poll(
        account=sender.handle, credentials=sender.credentials, after=cursor.last_uid
    )
    with transaction.atomic():
        stored = inbound_items_store(provider=sender.channel, items=items, sender=sender)
        MailboxCursor.objects.filter(id=cursor.id).update(last_uid=newest, polled_at=timezone.now())
    return len(stored)
