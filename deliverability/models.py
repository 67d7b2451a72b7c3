"""The deliverability app's models (docs/deliverability.md):

- bounce and complaint guards: the thresholds each email sender is held to
  ("Bounce and complaint guards");
- WhatsApp Business Account data synced from Meta's Graph API (deliverability/whatsapp.py):
  its message templates, with category, status and variables, and the phone number's
  messaging tier, which the forecast uses as the sender's unique users per 24 h."""

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


class WhatsAppAccount(models.Model):
    sender = models.OneToOneField(
        SenderAccount,
        on_delete=models.CASCADE,
        related_name="whatsapp_account",
        help_text="A WhatsApp sender: its handle is the phone number id.",
    )
    waba_id = models.CharField(
        "WhatsApp Business Account id", max_length=64, help_text="Where its templates live."
    )
    tier = models.CharField(
        max_length=20, blank=True, help_text="messaging_limit_tier, e.g. TIER_2K; synced."
    )
    unique_users_per_day = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="New conversations with unique users per 24 h (from the tier); empty: "
        "unlimited or not synced yet.",
    )
    synced_at = models.DateTimeField(null=True, blank=True)
    sync_error = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = "WhatsApp account"

    def __str__(self) -> str:
        return f"{self.sender} (WABA {self.waba_id})"


class WhatsAppTemplate(models.Model):
    class Category(models.TextChoices):
        MARKETING = "MARKETING", "Marketing"
        UTILITY = "UTILITY", "Utility"
        AUTHENTICATION = "AUTHENTICATION", "Authentication"

    account = models.ForeignKey(WhatsAppAccount, on_delete=models.CASCADE, related_name="templates")
    meta_id = models.CharField(max_length=64, blank=True)
    name = models.CharField(max_length=512)
    language = models.CharField(max_length=20)
    category = models.CharField(max_length=20, choices=Category.choices)
    status = models.CharField(max_length=20, help_text="APPROVED, PENDING, REJECTED, PAUSED, …")
    components = models.JSONField(default=list, blank=True)
    variables = models.JSONField(
        default=list, blank=True, help_text='The body\'s {{n}} or named variables, e.g. ["1", "2"].'
    )
    synced_at = models.DateTimeField()

    class Meta:
        ordering = ["name", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "name", "language"], name="wa_template_unique_name_language"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.language}, {self.get_category_display()}, {self.status})"
