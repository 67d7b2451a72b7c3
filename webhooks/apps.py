from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Outgoing webhooks: subscribers, signed deliveries and their retries. The events are
    emitted by campaigns (campaigns/webhook_receivers.py)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "webhooks"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from webhooks.models import WebhookSubscriber
        from webhooks.services import subscribers_changed

        for name, signal in (("save", post_save), ("delete", post_delete)):
            uid = f"webhooks.subscribers_changed.{name}"
            signal.connect(subscribers_changed, sender=WebhookSubscriber, dispatch_uid=uid)
