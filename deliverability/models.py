from django.db import models

from outreach.fields import EncryptedTextField


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
