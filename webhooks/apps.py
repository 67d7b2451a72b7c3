from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Outgoing webhooks: subscribers, signed deliveries and their retries. The events are
    emitted by campaigns (campaigns/webhook_receivers.py)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "webhooks"
