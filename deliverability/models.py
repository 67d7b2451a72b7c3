"""WhatsApp Business Account data synced from Meta's Graph API (deliverability/whatsapp.py):
its message templates, with category, status and variables, and the phone number's
messaging tier, which the forecast uses as the sender's unique users per 24 h."""

from django.db import models

from outreach.models import SenderAccount


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
