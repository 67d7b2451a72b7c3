"""Retention: message bodies (and the raw events that carried them, and the stored copies
of inbound media) are blanked after MESSAGE_BODY_RETENTION_DAYS. Rows, statuses and
timestamps stay, so counts do not change."""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from outreach.inbound_media import inbound_media_discard
from outreach.models import InboundEvent, Message

EXPIRED = {"expired": True}


def message_bodies_expire(*, now: datetime | None = None) -> int:
    days = settings.MESSAGE_BODY_RETENTION_DAYS
    if not days:
        return 0  # 0 keeps bodies forever
    cutoff = (now or timezone.now()) - timedelta(days=days)
    # Only finished messages: a queued one still needs its body to be sent.
    done = [
        s for s in Message.Status.values if s not in (Message.Status.QUEUED, Message.Status.PAUSED)
    ]
    old = Message.objects.filter(created_at__lt=cutoff, status__in=done).exclude(
        body="", body_html="", subject="", attachments=[], edits=[], payload={}
    )
    inbound_media_discard(old)  # the stored copies of inbound media go with their links
    blanked = old.update(body="", body_html="", subject="", attachments=[], edits=[], payload={})
    InboundEvent.objects.filter(received_at__lt=cutoff, processed_at__isnull=False).exclude(
        payload=EXPIRED
    ).update(payload=EXPIRED, raw=b"")
    return blanked
