"""Offering due messages to send tasks: at most one queued message per free sender, marked
enqueued by compare-and-set.

Guarantees (docs/reliability.md): of two dispatchers offering at once, each message goes to
exactly one; and this is the sweeper, so a message whose Celery task was lost (broker restart,
failed on_commit) is offered again after REQUEUE_AFTER ("Broker restart").
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Min, Q
from django.utils import timezone

from outreach.channels import get_channel
from outreach.channels.registry import channels
from outreach.models import Message, SenderAccount, SendingSwitch

S = Message.Status


def automated_channels() -> list[str]:
    return [name for name in channels() if get_channel(name).automated]


def messages_offer(*, now: datetime | None = None) -> list[int]:
    """Pick at most one due queued message per free sender and mark it enqueued.

    This is also the sweeper: a queued message whose Celery task was lost (broker restart,
    failed on_commit) is offered again after REQUEUE_AFTER.
    """
    now = now or timezone.now()
    if SendingSwitch.is_paused():
        return []
    stale = now - timedelta(seconds=settings.REQUEUE_AFTER)
    free = list(
        SenderAccount.objects.filter(paused=False, inflight_message_id=None)
        .filter(Q(next_send_at=None) | Q(next_send_at__lte=now))
        .filter(Q(backoff_until=None) | Q(backoff_until__lte=now))
        .values_list("id", flat=True)
    )
    if not free:
        return []
    # The oldest due message of each free sender, in one grouped query; a rep's reply from
    # the inbox goes before the campaign backlog (a lead who wrote is waiting for it).
    firsts = (
        Message.objects.filter(
            sender_id__in=free, status=S.QUEUED, channel__in=automated_channels()
        )
        .filter(Q(not_before=None) | Q(not_before__lte=now))
        .filter(Q(enqueued_at=None) | Q(enqueued_at__lt=stale))
        .order_by()
        .values("sender_id")
        .annotate(first=Min("id"), first_human=Min("id", filter=Q(human_written=True)))
        .values_list("first", "first_human")
    )
    candidates = [human or first for first, human in firsts]
    if not candidates:
        return []
    # Compare-and-set in one statement: of two dispatchers offering at once, each message
    # goes to exactly one (RETURNING says which rows this one won).
    table = Message._meta.db_table
    ids = ", ".join(["%s"] * len(candidates))
    when = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET enqueued_at = %s WHERE id IN ({ids}) AND status = %s"
            " AND (enqueued_at IS NULL OR enqueued_at < %s) RETURNING id",
            [when(now), *candidates, S.QUEUED, when(stale)],
        )
        return sorted(row[0] for row in cursor.fetchall())
