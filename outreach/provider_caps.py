"""Per-provider caps: "at most N messages to Gmail per hour from this sender".

Mailbox providers throttle and filter by how much one sender sends to their users in a short
time, so a sender's daily cap is not enough (docs/deliverability.md, "Sender pools and
provider caps"). The rule lives on the sender; the claim (outreach/sending/claim.py) enforces
it under the sender's row lock, so it holds across any number of workers.
"""

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Count, Min, Q
from django.db.models.functions import Coalesce

# Providers that own several domains count as one: Gmail's limits do not care whether the
# address ends in gmail.com or googlemail.com. Anything else is its own domain.
PROVIDER_GROUPS = {
    "google": r"(gmail\.com|googlemail\.com)",
    "microsoft": r"(outlook\.[a-z.]+|hotmail\.[a-z.]+|live\.[a-z.]+|msn\.com)",
    "yahoo": r"(yahoo\.[a-z.]+|ymail\.com|aol\.com)",
}
PROVIDER_LABELS = {"google": "Google", "microsoft": "Microsoft", "yahoo": "Yahoo/AOL"}


def validate_provider(value: str) -> None:
    if value in PROVIDER_GROUPS:
        return
    if "@" in value or "." not in value or " " in value or value != value.lower():
        raise ValidationError(
            "Use google, microsoft, yahoo or a lower-case domain such as example.com."
        )


def provider_of(address: str) -> str:
    """The provider group of an email address ("google"), or its domain; "" for a non-email."""
    domain = address.rpartition("@")[2].strip().lower() if "@" in address else ""
    for name, pattern in PROVIDER_GROUPS.items():
        if domain and re.fullmatch(pattern, domain):
            return name
    return domain


def recipient_filter(provider: str) -> Q:
    """Messages whose recipient is at this provider (on the conversation's identity)."""
    if provider in PROVIDER_GROUPS:
        return Q(conversation__identity__value__iregex=rf"@{PROVIDER_GROUPS[provider]}$")
    return Q(conversation__identity__value__iendswith=f"@{provider}")


class SenderProviderCap(models.Model):
    """At most per_hour messages from this sender to this provider in any rolling hour."""

    sender = models.ForeignKey(
        "outreach.SenderAccount", on_delete=models.CASCADE, related_name="provider_caps"
    )
    provider = models.CharField(
        max_length=100,
        validators=[validate_provider],
        help_text="google (gmail.com, googlemail.com), microsoft (outlook, hotmail, live, "
        "msn), yahoo (yahoo, ymail, aol), or any domain, e.g. example.com.",
    )
    per_hour = models.PositiveIntegerField(help_text="Messages per rolling hour, at most.")

    class Meta:
        app_label = "outreach"
        constraints = [
            models.UniqueConstraint(fields=["sender", "provider"], name="provider_cap_unique"),
            models.CheckConstraint(condition=Q(per_hour__gte=1), name="provider_cap_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.provider}: {self.per_hour} per hour"

    @property
    def label(self) -> str:
        return PROVIDER_LABELS.get(self.provider, self.provider)


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
    from outreach.models import Message

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
