"""What outreach tells the app above it (campaigns), which outreach never imports.

One interface, OutreachEvents: outreach calls its methods directly, inside the transaction
that recorded the change, so what the implementation writes commits or rolls back with it.
The implementation is named by the OUTREACH_EVENTS setting (a dotted path, like
EMAIL_BACKEND) and loaded once; this class is the default and does nothing, so outreach works
alone. docs/architecture.md ("Seams between apps") lists who calls each method, and when.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from contacts.models import Identity
    from outreach.models import Conversation, InboundEvent, Message, SenderAccount


@dataclass(frozen=True)
class MessageFailed:
    """An outbound message failed (status "failed")."""

    message: Message
    # Its status before, when it had been sent (a late bounce or failure); "" otherwise.
    previous: str = ""
    # The platform refused it at the send by its messaging rules (outside its window, a bot
    # the person never started): nothing arrived, so it may be sent elsewhere, as after a
    # refusal by the policy gate.
    refused: bool = False


@dataclass(frozen=True)
class MessageRequeued:
    """An outbound message is back to "queued": an in-flight attempt proved undelivered, or
    a sent one soft-bounced and will be sent again (outreach/suppress.py)."""

    message: Message
    previous: str = ""  # with sent_at: its status before the soft bounce
    sent_at: datetime | None = None  # when it had gone out: that send no longer counts


@dataclass(frozen=True)
class ReplyRecorded:
    """An inbound message was recorded and labelled (intent/)."""

    message: Message
    kind: str  # "reply" | "opt_out" (a stop reply or a complaint) | "auto_reply" | "bounce"
    intent: str  # its label, e.g. "interested" (outreach.inbox.models.MessageIntent.Label)
    return_date: date | None = None  # an out-of-office reply's return date, when it says
    # Our outbound message it answers, when the platform links the two (email
    # In-Reply-To/References; refers_to of other channels).
    replies_to: Message | None = None


@dataclass(frozen=True)
class IntentCorrected:
    """A rep corrected a reply's label (outreach.inbox.services.intent_correct)."""

    message: Message
    intent: str
    previous: str  # the label it had before
    by: object  # the rep (a user)
    # The rep confirmed what the new label does (outreach.inbox.hooks.intent_consequences),
    # e.g. an opt-out, which must not happen unconfirmed.
    confirmed: bool = False
    return_date: date | None = None


@dataclass(frozen=True)
class Engagement:
    """A person engaged first (outreach.engagement.engagement_announce)."""

    event: InboundEvent
    event_type: str
    identity: Identity
    sender: SenderAccount
    conversation: Conversation
    at: datetime
    text: str = ""
    post_id: str = ""
    ref: str = ""  # deep-link payload or the ad's ref
    referral: dict[str, Any] = field(default_factory=dict)
    message: Message | None = None  # the recorded inbound message, for DMs
    comment_id: str = ""  # the comment itself, for a public reply under it
    recipients: list[str] = field(default_factory=list)  # email: the addresses it went to
    # The conversation was made for this engagement: nothing of ours (a question asked) is
    # in it yet.
    new_conversation: bool = False


class OutreachEvents:
    """What outreach tells the app above it. Every method is called inside the transaction
    that recorded the change; the default does nothing (no campaigns above)."""

    def messages_sent(self, messages: list[Message]) -> None:
        """Outbound messages went out, recorded together (one send task's batch)."""

    def message_failed(self, failure: MessageFailed) -> None:
        """An outbound message failed, before or after it was sent."""

    def message_cancelled(self, message: Message) -> None:
        """A queued outbound message was cancelled before sending (the policy gate blocked
        it, or the contact blocked the bot)."""

    def message_requeued(self, requeue: MessageRequeued) -> None:
        """An outbound message came back to the queue; whoever queued it may hold or cancel
        it (e.g. the contact replied meanwhile)."""

    def messages_delivered(self, message_ids: list[int]) -> None:
        """Outbound messages went from "sent" to delivered or read (a receipt)."""

    def reply_recorded(self, reply: ReplyRecorded) -> None:
        """An inbound message was recorded and labelled: the last step of its processing
        (outreach.inbound.apply._message), after which only a first engagement is announced."""

    def intent_corrected(self, correction: IntentCorrected) -> None:
        """A rep corrected a reply's label."""

    def engagement_received(self, engagement: Engagement) -> None:
        """A person engaged first (a DM, a comment, a story reply or mention, an ad click,
        a deep-link /start, an email to a watched address): entry triggers may make a lead
        of it, or take it as the answer to their open question."""

    def refusal_has_fallback(self, message: Message) -> bool:
        """Asked by the policy gate when a platform refuses a queued message for now (e.g.
        WhatsApp outside its 24 h window): True if whoever queued it can send it elsewhere,
        so it fails at once (message_failed) instead of waiting until the platform allows
        it."""
        return False

    def email_lead_wanted(self, recipients: list[str], sender: SenderAccount) -> bool:
        """Does an email from an unknown address to one of these addresses, arriving at this
        account, make a new lead (a watched leads@ address)? Outreach then creates the
        contact instead of leaving the mail unmatched."""
        return False


@cache
def _load(path: str) -> OutreachEvents:
    return import_string(path)()


def outreach_events() -> OutreachEvents:
    """The implementation OUTREACH_EVENTS names (this module's no-op class by default)."""
    return _load(getattr(settings, "OUTREACH_EVENTS", "outreach.seams.OutreachEvents"))
