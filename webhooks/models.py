"""Outgoing webhooks: who wants which events, and every delivery with its attempts."""

import secrets

from django.core.exceptions import ValidationError
from django.db import models

from outreach.fields import EncryptedTextField
from webhooks.targets import url_refusal


class WebhookEvent(models.TextChoices):
    REPLY_RECEIVED = "reply.received", "Reply received"
    INTENT_LABELLED = "reply.intent_labelled", "Reply intent labelled"
    DEAL_STAGE_CHANGED = "deal.stage_changed", "Deal stage changed"
    CONTACT_OPTED_OUT = "contact.opted_out", "Contact opted out"
    MESSAGE_FAILED = "message.failed", "Message failed"


def new_secret() -> str:
    return secrets.token_urlsafe(32)


class WebhookSubscriber(models.Model):
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list, help_text="Event names, e.g. reply.received.")
    # Encrypted at rest like platform credentials; shown once, masked afterwards.
    secret = EncryptedTextField(default=new_secret, help_text="Signs every delivery (HMAC).")
    active = models.BooleanField(default=True)
    description = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "campaigns_webhooksubscriber"  # made by campaigns before this app existed
        ordering = ["url"]

    def __str__(self) -> str:
        return self.description or self.url

    def clean(self) -> None:
        # Run by the admin form: no posting to loopback, private or metadata addresses
        # (webhooks/targets.py). Each delivery checks again after resolving.
        super().clean()
        reason = url_refusal(self.url) if self.url else None
        if reason:
            raise ValidationError({"url": reason})


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending (will be tried at next_attempt_at)"
        SUCCEEDED = "succeeded", "Delivered"
        FAILED = "failed", "Gave up"

    subscriber = models.ForeignKey(
        WebhookSubscriber, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(max_length=50, choices=WebhookEvent.choices)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    replay_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "campaigns_webhookdelivery"  # made by campaigns before this app existed
        ordering = ["-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            # The periodic "due retries" query.
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due"),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.subscriber} ({self.status})"


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery and what came back."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="log")
    at = models.DateTimeField(auto_now_add=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    error = models.CharField(max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "campaigns_webhookattempt"  # made by campaigns before this app existed
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.status_code or self.error} at {self.at:%H:%M:%S}"
