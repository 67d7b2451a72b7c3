"""Where a rep's reply to a contact can go: the channel switcher under the unified thread.

A conversation is one (identity, sender) pair (outreach/models.py), so a contact reachable on
two channels has two conversations. The switcher offers the contact's conversations the user
may see, and each of the contact's other identities that one of the user's senders could
reach; picking one of those creates its conversation through the send path's own
conversations_for (outreach/sending/create.py) when the reply is queued.
"""

from dataclasses import dataclass

from contacts.access import contacts_visible_to
from contacts.models import Identity
from outreach.access import senders_visible_to
from outreach.models import Conversation, SenderAccount
from outreach.selectors import contact_conversations
from outreach.sending.create import conversations_for


@dataclass(frozen=True)
class ReplyTarget:
    key: str  # the switcher's value: "c<conversation id>" or "i<identity id>-s<sender id>"
    channel: str
    label: str
    identity_id: int
    sender_id: int
    conversation: Conversation | None = None


def _label(sender: SenderAccount, value: str) -> str:
    return f"{sender.get_channel_display()} · {sender.name} → {value}"


def reply_targets(*, user, contact_id: int) -> list[ReplyTarget]:
    """The switcher's choices, the default (the channel the contact last wrote on) first."""
    conversations = list(contact_conversations(user=user, contact_id=contact_id))
    targets = [
        ReplyTarget(
            f"c{c.pk}",
            c.sender.channel,
            _label(c.sender, c.identity.value),
            c.identity_id,
            c.sender_id,
            c,
        )
        for c in conversations
    ]
    # New conversations only with a contact the user sees (not one merely assigned to them).
    if not contacts_visible_to(user).filter(pk=contact_id).exists():
        return targets
    reached = {c.identity_id for c in conversations}
    identities = Identity.objects.filter(contact_id=contact_id, opted_out_at=None).exclude(
        id__in=reached
    )
    senders: dict[str, SenderAccount] = {}
    for account in senders_visible_to(user).filter(paused=False).order_by("id"):
        senders.setdefault(account.channel, account)
    for i in identities.order_by("id"):
        if (s := senders.get(i.channel)) is not None:
            targets.append(
                ReplyTarget(f"i{i.pk}-s{s.pk}", s.channel, _label(s, i.value), i.pk, s.pk)
            )
    return targets


def target_conversation(target: ReplyTarget) -> Conversation:
    """The target's conversation, created on the send path's terms if it has none yet."""
    if target.conversation is not None:
        return target.conversation
    pair = (target.identity_id, target.sender_id)
    conversation = conversations_for({pair})[pair]
    return Conversation.objects.select_related("sender", "identity").get(pk=conversation.pk)
