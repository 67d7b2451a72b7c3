from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from contacts.channels import CHANNEL_CHOICES
from contacts.validators import validate_time_zone


class Tag(models.Model):
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), name="tag_name_unique_ci")]

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    company = models.CharField(max_length=200, blank=True)
    title = models.CharField(max_length=200, blank=True)
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_time_zone],
        help_text="IANA name, e.g. Europe/Berlin. Sending windows are evaluated in it.",
    )
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2")
    locale = models.CharField(max_length=16, blank=True, help_text="e.g. de-DE")
    custom_fields = models.JSONField(default=dict, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contacts",
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="contacts")
    # Global opt-out ("stop contacting me anywhere"); per-channel opt-out is on Identity.
    opted_out_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["last_name", "first_name"])]

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        if name and self.company:
            return f"{name} ({self.company})"
        return name or self.company or f"Contact #{self.pk}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Identity(models.Model):
    """One way to reach a contact on one channel: an address, number or handle."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="identities")
    channel = models.CharField(max_length=20, choices=CHANNEL_CHOICES)
    value = models.CharField(
        max_length=255, help_text="Normalized: lower-case email, E.164 phone, bare handle."
    )
    platform_user_id = models.CharField(
        max_length=128,
        blank=True,
        help_text="The platform's own id (PSID, IGSID, X user id, Telegram chat id).",
    )
    consent_at = models.DateTimeField(null=True, blank=True)
    consent_source = models.CharField(max_length=100, blank=True)
    opted_out_at = models.DateTimeField(null=True, blank=True)
    opt_out_source = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "identities"
        constraints = [
            models.UniqueConstraint(fields=["channel", "value"], name="identity_unique_value"),
            models.UniqueConstraint(
                fields=["channel", "platform_user_id"],
                condition=~Q(platform_user_id=""),
                name="identity_unique_platform_id",
            ),
            models.CheckConstraint(condition=~Q(value=""), name="identity_value_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()}: {self.value}"

    @property
    def is_opted_out(self) -> bool:
        return self.opted_out_at is not None or self.contact.opted_out_at is not None


class ConsentRecord(models.Model):
    """Append-only audit of consent and opt-out decisions, with where they came from."""

    class Kind(models.TextChoices):
        GRANTED = "granted", "Consent granted"
        OPTED_OUT = "opted_out", "Opted out"
        REINSTATED = "reinstated", "Opt-out reversed by a human"

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="consent_records")
    identity = models.ForeignKey(
        Identity, null=True, blank=True, on_delete=models.SET_NULL, related_name="consent_records"
    )
    channel = models.CharField(
        max_length=20, choices=CHANNEL_CHOICES, blank=True, help_text="Empty means every channel."
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    source = models.CharField(max_length=100, help_text="e.g. csv import, webhook, reply, admin")
    note = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-recorded_at"]

    def __str__(self) -> str:
        scope = self.get_channel_display() if self.channel else "all channels"
        return f"{self.get_kind_display()} ({scope}) via {self.source}"


class Suppression(models.Model):
    """Never contact this address, whoever imports it again (bounces, complaints, legal)."""

    channel = models.CharField(
        max_length=20, choices=CHANNEL_CHOICES, blank=True, help_text="Empty means every channel."
    )
    value = models.CharField(max_length=255, help_text="Normalized address, number or handle.")
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "value"], name="suppression_unique_value")
        ]

    def __str__(self) -> str:
        return f"{self.value} ({self.get_channel_display() or 'all channels'})"
