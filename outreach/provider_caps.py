"""Per-provider caps: "at most N messages to Gmail per hour from this sender".

Mailbox providers throttle and filter by how much one sender sends to their users in a short
time, so a sender's daily cap is not enough (docs/deliverability.md, "Sender pools and
provider caps"). The rule lives on the sender; the claim (outreach/sending/claim.py) enforces
it under the sender's row lock, so it holds across any number of workers.
"""

import re

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

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
