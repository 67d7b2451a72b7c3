"""The deliverability app's models (docs/deliverability.md):

- bounce and complaint guards: the thresholds each email sender is held to
  ("Bounce and complaint guards");
- WhatsApp Business Account data synced from Meta's Graph API (deliverability/whatsapp.py):
  its message templates, with category, status and variables, and the phone number's
  messaging tier, which the forecast uses as the sender's unique users per 24 h;
- sending domains: what each email domain's DNS says and the DKIM key the app signs with
  ("Sending domains")."""

from django.db import models
from django.db.models import F, Q

from outreach.fields import EncryptedTextField
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


class SendingDomain(models.Model):
    """The domain of email senders' From addresses: what its DNS says (SPF, DKIM, DMARC,
    alignment) at the last check, and the DKIM key the app signs its mail with
    (deliverability/checks.py, deliverability/dkim.py)."""

    class Status(models.TextChoices):
        PASS = "pass", "passing"
        FAIL = "fail", "failing"
        MISSING = "missing", "missing"

    RECORDS = ("spf", "dkim", "dmarc", "alignment")

    domain = models.CharField(max_length=253, unique=True)
    team = models.ForeignKey(
        "core.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Empty: seen by whoever sees a sender on the domain.",
    )
    strict = models.BooleanField(
        default=False, help_text="Block a campaign's launch while this domain fails a check."
    )
    dkim_selector = models.CharField(max_length=63, default="outreach")
    # d= of our signature: empty means the domain itself; its organizational domain is the
    # other aligned choice under relaxed DMARC (RFC 7489 3.1.1).
    dkim_domain = models.CharField(max_length=253, blank=True)
    dkim_private_key = EncryptedTextField(blank=True, help_text="PEM, stored encrypted.")
    dkim_public_key = models.TextField(blank=True, help_text="Base64 DER, the p= of the record.")
    signing = models.BooleanField(
        default=False, help_text="Sign outgoing mail from this domain with the key above."
    )
    # {"spf": {"status", "found", "publish", "note"}, "dkim": …, "dmarc": …, "alignment": …}
    results = models.JSONField(default=dict, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["domain"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(domain=models.functions.Lower("domain")),
                name="sending_domain_lowercase",
            )
        ]

    def __str__(self) -> str:
        return self.domain

    @property
    def signing_domain(self) -> str:
        return self.dkim_domain or self.domain

    @property
    def failing_records(self) -> list[str]:
        """Names of the records whose last check did not pass ([] before any check)."""
        return [k for k in self.RECORDS if self.results.get(k, {}).get("status", "pass") != "pass"]
