from celery import shared_task


@shared_task(ignore_result=True)
def dispatch_tick() -> dict:
    # Idempotent: two beats or a manual run at the same time are harmless.
    from campaigns.dispatch import dispatch_tick as tick

    return tick().as_dict()


@shared_task(acks_late=True, ignore_result=True)
def deliver_webhook(delivery_id: int) -> str:
    # Safe to run twice: the service claims the delivery row by compare-and-set.
    from campaigns.webhooks import webhook_delivery_attempt

    return webhook_delivery_attempt(delivery_id=delivery_id)


@shared_task(ignore_result=True)
def deliver_due_webhooks() -> int:
    """Periodic: offer every retry whose backoff has passed."""
    from campaigns.webhooks import webhook_deliveries_due

    due = webhook_deliveries_due()
    for delivery_id in due:
        deliver_webhook.delay(delivery_id)
    return len(due)


@shared_task(ignore_result=True)
def blank_old_message_bodies() -> int:
    from outreach.retention import message_bodies_expire

    return message_bodies_expire()
