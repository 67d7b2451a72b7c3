"""The gate a message passes in its claim: whether it may go now, and if not, whether it
waits (a hold with its reason and time), is cancelled (a block reason) or fails (media,
a platform refusal with nowhere else to go).

Checks, in the order analytics.held explains them: sender paused, block reasons (opt-out,
suppression), sending window, per-contact cap (sends in flight count), attachments, the
channel's check_policy (docs/architecture.md, "Invariants": platform rules before sending).
Runs inside the claim transaction (claim.py), under its row locks.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import F, Q
from django.db.models.functions import Coalesce

from contacts.models import Identity
from contacts.services import identities_block_reasons
from outreach.channels import get_channel
from outreach.channels.base import PolicyContext
from outreach.media import attachment_problems
from outreach.models import Conversation, Message
from outreach.seams import MessageFailed, outreach_events
from outreach.sending.history import event
from outreach.windows import Window, describe_wait

S = Message.Status


def hold(message: Message, reason: str, not_before: datetime | None) -> None:
    Message.objects.filter(id=message.id, status=S.QUEUED).update(
        hold_reason=reason[:200], not_before=not_before, enqueued_at=None
    )


def _window_for(message: Message) -> tuple[Window, ZoneInfo]:
    sender = message.sender
    contact_tz = message.conversation.identity.contact.time_zone
    tz = ZoneInfo(contact_tz or sender.time_zone or "UTC")
    return Window(sender.window_days, sender.window_start, sender.window_end, tz), tz


def _contact_cap_hold(message: Message, now: datetime) -> tuple[str, datetime | None]:
    cap = settings.CONTACT_DAILY_MESSAGE_CAP
    if not cap:
        return "", None
    since = now - timedelta(hours=24)
    # Sends in flight count too: another worker's batch may be sending to this contact now.
    recent = list(
        Message.objects.filter(
            conversation__identity__contact_id=message.conversation.identity.contact_id,
            direction=Message.Direction.OUTBOUND,
        )
        .filter(Q(sent_at__gte=since) | Q(status__in=[S.SENDING, S.UNKNOWN], claimed_at__gte=since))
        .annotate(at=Coalesce("sent_at", "claimed_at"))
        .order_by("at")
        .values_list("at", flat=True)[:cap]
    )
    if len(recent) < cap:
        return "", None
    return f"contact already got {cap} message(s) in 24 h", recent[0] + timedelta(hours=24)


def _policy_context(message: Message, now: datetime) -> PolicyContext:
    identity = message.conversation.identity
    return PolicyContext(
        channel=message.channel,
        now=now,
        recipient=identity.value,
        recipient_platform_id=identity.platform_user_id,
        last_inbound_at=message.conversation.last_inbound_at,
        human_written=message.human_written,
        attachments=message.attachments,
        comment_id=message.conversation.comment_id,
        comment_at=message.conversation.comment_at,
        public_reply_to=message.public_reply_to,
        thread_owner=message.conversation.thread_owner,
    )


def identities_held(
    *,
    channel: str,
    identity_ids: Iterable[int],
    sender_ids: Iterable[int] = (),
    attachments: list[dict] | None = None,
    now: datetime,
) -> dict[int, str]:
    """Why an automated message on `channel` would not go now to each of these identities,
    by identity id (those it would reach are left out): an opt-out or suppression (the
    block reasons the claim cancels for), else the platform's rules as `refusal` checks them
    (`check_policy`, e.g. a Telegram contact who has not started the bot, WhatsApp's closed
    24 h window). The conversation is the one with `sender_ids` (any sender when empty) the
    contact last wrote in. Three queries however many identities: the lint and the forecast
    ask this for every step, so they, and the gate, agree on who is held."""
    identities = list(Identity.objects.filter(id__in=list(identity_ids)).select_related("contact"))
    reasons = identities_block_reasons(identities)
    conversations = Conversation.objects.filter(identity__in=identities).order_by(
        F("last_inbound_at").asc(nulls_first=True), "id"
    )
    if sender_ids:
        conversations = conversations.filter(sender_id__in=list(sender_ids))
    latest = {c.identity_id: c for c in conversations}  # the last one written in wins
    backend = get_channel(channel)
    for identity in identities:
        if identity.id in reasons:
            continue
        conv = latest.get(identity.id)
        decision = backend.check_policy(
            PolicyContext(
                channel=channel,
                now=now,
                recipient=identity.value,
                recipient_platform_id=identity.platform_user_id,
                last_inbound_at=conv.last_inbound_at if conv else None,
                attachments=attachments or [],
                comment_id=conv.comment_id if conv else "",
                comment_at=conv.comment_at if conv else None,
                thread_owner=conv.thread_owner if conv else "",
            )
        )
        if not decision.allowed:
            reasons[identity.id] = f"platform policy: {decision.reason}"
    return reasons


def _fail_before_send(message: Message, reason: str) -> None:
    """Nothing was sent and nothing can be: fail the message and tell campaigns."""
    Message.objects.filter(id=message.id, status=S.QUEUED).update(
        status=S.FAILED, error_code="policy", error_reason=reason, hold_reason=reason[:200]
    )
    event(message, S.FAILED, reason)
    message.status, message.error_code, message.error_reason = S.FAILED, "policy", reason
    outreach_events().message_failed(MessageFailed(message))


def _refusal_has_fallback(message: Message) -> bool:
    """A refusal the platform may lift later holds the message, unless whoever queued it
    can send it elsewhere instead (OutreachEvents.refusal_has_fallback)."""
    return outreach_events().refusal_has_fallback(message)


def refusal(message: Message, now: datetime, blocked: str) -> bool:
    """Hold, cancel or fail a message that may not go now; True if so. The checks run in
    the order analytics.held._waiting_reason explains them."""
    sender = message.sender
    if sender.paused:
        hold(message, f"sender paused: {sender.paused_reason or 'by a user'}", None)
        return True
    if blocked:
        Message.objects.filter(id=message.id, status=S.QUEUED).update(
            status=S.CANCELLED, hold_reason=blocked[:200]
        )
        event(message, S.CANCELLED, blocked)
        message.status, message.hold_reason = S.CANCELLED, blocked
        outreach_events().message_cancelled(message)
        return True
    # The sending window keeps automated outreach to human hours; a rep answering a
    # conversation now is a human writing, as in any inbox.
    if not message.human_written:
        window, tz = _window_for(message)
        opens = window.next_open(now)
        if opens > now:
            hold(message, describe_wait(opens, tz), opens)
            return True
    reason, until = _contact_cap_hold(message, now)
    if reason:
        hold(message, reason, until)
        return True
    media_problems = attachment_problems(message.channel, message.attachments)
    if media_problems:
        _fail_before_send(message, f"attachment: {'; '.join(media_problems)}"[:1000])
        return True
    decision = get_channel(message.channel).check_policy(_policy_context(message, now))
    if not decision.allowed:
        if decision.retry_at is None or _refusal_has_fallback(message):
            _fail_before_send(message, f"platform policy: {decision.reason}")
        else:
            hold(message, f"platform policy: {decision.reason}", decision.retry_at)
        return True
    return False
