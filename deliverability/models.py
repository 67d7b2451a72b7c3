"""Bounce and complaint guards: the thresholds each email sender is held to
(docs/deliverability.md, "Bounce and complaint guards")."""

from django.db import models
from django.db.models import F, Q

from outreach.models import SenderAccount


class SenderGuard(models.Model):
    """One sender's thresholds, in percent of its sends over the window. The defaults are
    the mailbox providers' published limits (docs/deliverability.md); a sender without a row
    is held to them."""

    sender = models.OneToOneField(SenderAccount, on_delete=models.CASCADE, related_name="guard")
    complaint_warn = models.FloatField(default=0.1, help_text="Percent: slow down from here.")
    complaint_pause = models.FloatField(default=0.3, help_text="Percent: pause from here.")
    bounce_warn = models.FloatField(default=2.0, help_text="Percent of hard bounces.")
    bounce_pause = models.FloatField(default=5.0, help_text="Percent of hard bounces.")
    min_sends = models.PositiveIntegerField(
        default=100, help_text="Fewer sends in the window: the rates do not count yet."
    )
    window_days = models.PositiveSmallIntegerField(default=7)
    # When the guard last paused the sender, and why: kept after a resume, for the history.
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(complaint_pause__gte=F("complaint_warn"), complaint_warn__gt=0),
                name="guard_complaint_warn_below_pause",
            ),
            models.CheckConstraint(
                condition=Q(bounce_pause__gte=F("bounce_warn"), bounce_warn__gt=0),
                name="guard_bounce_warn_below_pause",
            ),
            models.CheckConstraint(condition=Q(window_days__gte=1), name="guard_window_positive"),
        ]

    def __str__(self) -> str:
        return f"guard of {self.sender}"
