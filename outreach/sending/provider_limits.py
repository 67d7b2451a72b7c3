"""The provider caps in the claim: whether a message's recipient provider has had its
hourly cap from this sender (the caps themselves: outreach/provider_caps.py)."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, Min, Q
from django.db.models.functions import Coalesce

from outreach.models import Message
from outreach.provider_caps import SenderProviderCap, provider_of, recipient_filter


def provider_caps_load(senders) -> None:
    """Read the caps of a claim's senders in one query (not one per sender per batch)."""
    by_sender: dict[int, dict[str, SenderProviderCap]] = {s.id: {} for s in senders}
    for cap in SenderProviderCap.objects.filter(sender_id__in=by_sender):
        by_sender[cap.sender_id][cap.provider] = cap
    for sender in senders:
        sender._provider_caps = by_sender[sender.id]


def provider_cap_hold(message, now: datetime) -> tuple[str, datetime] | None:
    """(reason, when to try again) if this message's recipient provider has had its cap
    from this sender in the last hour, else None. Runs in the claim under the sender's row
    lock: every send of the sender is claimed under that lock, so the count is exact."""
    sender = message.sender
    caps = getattr(sender, "_provider_caps", None)
    if caps is None:
        caps = {c.provider: c for c in sender.provider_caps.all()}
        sender._provider_caps = caps  # once per sender per claim
    if not caps:
        return None
    cap = caps.get(provider_of(message.conversation.identity.value))
    if cap is None:
        return None
    since = now - timedelta(hours=1)
    S = Message.Status
    # Sends in flight count, as for the per-contact cap; the (sender, sent_at) index keeps
    # this to the sender's last hour.
    recent = (
        Message.objects.filter(sender_id=sender.id, direction=Message.Direction.OUTBOUND)
        .filter(
            Q(sent_at__gte=since)
            | Q(status__in=[S.SENDING, S.UNKNOWN], claimed_at__gte=since, sent_at=None)
        )
        .filter(recipient_filter(cap.provider))
        .aggregate(n=Count("id"), oldest=Min(Coalesce("sent_at", "claimed_at")))
    )
    if recent["n"] < cap.per_hour:
        return None
    at = recent["oldest"] + timedelta(hours=1)
    local = at.astimezone(ZoneInfo(sender.time_zone or "UTC"))
    reason = (
        f"{cap.label} cap for this sender: {cap.per_hour} per hour, "
        f"next at {local:%H:%M} {local.tzinfo}"
    )
    return reason, at
