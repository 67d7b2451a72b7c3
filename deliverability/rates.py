"""Rolling hard-bounce and complaint rates, per sender and per sending domain.

The window is time-based (SenderGuard.window_days, 7 by default), not "the last N sends":
providers judge a sender by what their users saw recently, and a sender that sends little
must not keep an old complaint for weeks. The rates are SQL aggregates over outreach's own
history (one COUNT each, by the indexes on message and event), so no counter can drift:

- sends: outbound messages with a "sent" event in the window, plus those refused at send as
  a hard bounce (they were attempts the provider judged);
- hard bounces: outbound messages with a failed "bounce_…" event in the window (written by
  outreach.inbound.apply._fail for reported bounces and outreach.sending.record.record_failed
  for refusals at send);
- complaints: inbound messages whose event is "complaint" (outreach.inbound.apply leaves one per
  ARF or feedback-loop report);
- one-click unsubscribes (RFC 8058, outreach/views.py): counted apart, never a complaint.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef, Q

from contacts.models import ConsentRecord
from outreach.models import Message, MessageEvent, SenderAccount

M = Message.Status
OUT, IN = Message.Direction.OUTBOUND, Message.Direction.INBOUND


@dataclass(frozen=True)
class Rates:
    sends: int
    hard_bounces: int
    complaints: int
    unsubscribes: int
    days: int

    @property
    def bounce_rate(self) -> float:
        """Percent of sends."""
        return 100.0 * self.hard_bounces / self.sends if self.sends else 0.0

    @property
    def complaint_rate(self) -> float:
        return 100.0 * self.complaints / self.sends if self.sends else 0.0


def sender_domain(sender: SenderAccount) -> str:
    return sender.handle.rpartition("@")[2].lower()


def domain_senders(domain: str) -> list[int]:
    """The email senders sending from this domain (its reputation is shared)."""
    rows = SenderAccount.objects.filter(channel="email", handle__iendswith=f"@{domain}")
    return list(rows.values_list("id", flat=True))


def _hard_bounce_events(since: datetime):
    return MessageEvent.objects.filter(
        message_id=OuterRef("id"), status=M.FAILED, detail__startswith="bounce_", at__gte=since
    )


def rates_for(sender_ids: list[int], *, since: datetime, days: int) -> Rates:
    outbound = Message.objects.filter(sender_id__in=sender_ids, direction=OUT)
    sent = MessageEvent.objects.filter(message_id=OuterRef("id"), status=M.SENT, at__gte=since)
    bounced = _hard_bounce_events(since)
    sends = outbound.filter(Q(Exists(sent)) | Q(Exists(bounced))).count()
    hard = outbound.filter(Exists(bounced)).count()
    complaints = Message.objects.filter(
        sender_id__in=sender_ids,
        direction=IN,
        created_at__gte=since,
        events__detail="complaint",
    ).count()
    unsubscribes = (
        ConsentRecord.objects.filter(
            kind=ConsentRecord.Kind.OPTED_OUT,
            channel="email",
            source="one-click unsubscribe",
            recorded_at__gte=since,
            identity__conversations__sender_id__in=sender_ids,
        )
        .values("id")
        .distinct()
        .count()
    )
    return Rates(sends, hard, complaints, unsubscribes, days)


def sender_rates(sender: SenderAccount, *, now: datetime, days: int) -> Rates:
    return rates_for([sender.id], since=now - timedelta(days=days), days=days)


def domain_rates(domain: str, *, now: datetime, days: int) -> Rates:
    return rates_for(domain_senders(domain), since=now - timedelta(days=days), days=days)
