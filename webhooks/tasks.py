from celery import shared_task

from webhooks.services import deliver_webhook, webhook_deliveries_due


@shared_task(ignore_result=True)
def deliver_due_webhooks() -> int:
    """Periodic: offer every retry whose backoff has passed."""
    due = webhook_deliveries_due()
    for delivery_id in due:
        deliver_webhook.delay(delivery_id)
    return len(due)
