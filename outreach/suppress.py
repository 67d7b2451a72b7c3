"""When a bounce suppresses an address: a hard bounce at once, soft bounces (a full mailbox,
a delivery given up after retries) once there were SOFT_BOUNCE_LIMIT of them. Used by the
inbound path (reported bounces, outreach/inbound.py) and the send path (SMTP refusals,
outreach/services.py)."""

from datetime import datetime

from django.conf import settings
from django.db.models import Q

from contacts.models import Identity
from contacts.services import address_suppress, bounce_reason
from outreach.models import Message, MessageEvent

SOFT_SEND_CODE = "soft_bounce_"  # outreach/channels/email.py: a 4xx answer to RCPT


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
