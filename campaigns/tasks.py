from celery import shared_task


@shared_task(ignore_result=True)
def dispatch_tick() -> dict:
    # Idempotent: two beats or a manual run at the same time are harmless.
    from campaigns.dispatch import dispatch_tick as tick

    return tick().as_dict()


@shared_task(ignore_result=True)
def blank_old_message_bodies() -> int:
    from outreach.retention import message_bodies_expire

    return message_bodies_expire()
