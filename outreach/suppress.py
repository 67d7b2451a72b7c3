"""When a bounce suppresses an address: a hard bounce at once, soft bounces (a full mailbox,
a delivery given up after retries) once there were SOFT_BOUNCE_LIMIT of them; until then a
reported soft bounce sends the message again later (soft_bounce_retry). Used by the inbound
path (reported bounces, outreach/inbound/) and the send path (SMTP refusals,
outreach/sending/record.py)."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from contacts.models import Identity
from contacts.services import address_suppress, bounce_reason
from outreach.models import Message, MessageEvent
from outreach.seams import MessageRequeued, outreach_events

S = Message.Status

SOFT_SEND_CODE = "soft_bounce_"  # outreach/channels/email/backend.py: a 4xx answer to RCPT


def soft_bounces(identity: Identity) -> int:
    """Reported soft bounces (inbound "soft bounce" events) and sends that failed on a 4xx
    answer after every retry, to this identity."""
    reported = MessageEvent.objects.filter(
        detail="soft bounce",
        message__direction=Message.Direction.INBOUND,
        message__conversation__identity=identity,
    ).count()
    refused = Message.objects.filter(
        Q(error_code__startswith=SOFT_SEND_CODE),
        direction=Message.Direction.OUTBOUND,
        status=Message.Status.FAILED,
        conversation__identity=identity,
    ).count()
    return reported + refused


def bounce_suppress(*, identity: Identity, hard: bool, at: datetime) -> bool:
    """Suppress the identity's address if this bounce makes it undeliverable; True if so.
    A soft bounce must already be recorded when this is called."""
    if hard or soft_bounces(identity) >= settings.SOFT_BOUNCE_LIMIT:
        address_suppress(channel=identity.channel, value=identity.value, reason=bounce_reason(at))
        return True
    return False


def soft_bounce_retry(*, message: Message, code: str, reason: str, count: int) -> None:
    """A sent message soft-bounced (the ``count``th time for its address): queue it again,
    to go out after SOFT_BOUNCE_RETRY_AFTER doubled for each earlier soft bounce, through
    the dispatcher like any queued message (the sender's limits, the policy gate). Its hold
    reason says when; nothing happens if it is no longer sent (already retried or failed)."""
    wait = timedelta(seconds=settings.SOFT_BOUNCE_RETRY_AFTER * 2 ** (count - 1))
    retry_at = timezone.now() + wait
    when = timezone.localtime(retry_at).strftime("%Y-%m-%d %H:%M %Z")
    retries = settings.SOFT_BOUNCE_LIMIT - 1
    hold = f"soft bounce ({code}): sending again after {when} (retry {count} of {retries})"
    sent_message_requeue(message=message, code=code, reason=reason, retry_at=retry_at, hold=hold)


def sent_message_requeue(
    *, message: Message, code: str, reason: str, retry_at: datetime, hold: str
) -> bool:
    """A message the platform accepted (sent, delivered or read) did not arrive after all
    and is to go out again at ``retry_at``: back to the queue with ``hold`` as its reason,
    through the dispatcher like any queued message. Campaigns un-count the send it undoes.
    False if it is no longer sent (already retried or failed)."""
    with transaction.atomic():
        # Locked first, as outreach.inbound.apply._fail: campaigns un-counts the send it undoes.
        row = (
            Message.objects.select_for_update()
            .filter(id=message.id, status__in=[S.SENT, S.DELIVERED, S.READ])
            .values_list("status", "sent_at")
            .first()
        )
        if row is None:
            return False
        previous, sent_at = row
        Message.objects.filter(id=message.id).update(
            status=S.QUEUED,
            not_before=retry_at,
            enqueued_at=None,
            sent_at=None,
            error_code=code[:64],
            error_reason=reason[:1000],
            hold_reason=hold[:200],
        )
        MessageEvent.objects.create(message=message, status=S.QUEUED, detail=hold[:300])
        message.status, message.not_before, message.sent_at = S.QUEUED, retry_at, None
        message.hold_reason, message.error_code = hold[:200], code[:64]
        outreach_events().message_requeued(
            MessageRequeued(message, previous=previous, sent_at=sent_at)
        )
    return True
