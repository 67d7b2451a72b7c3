from celery import shared_task


@shared_task(ignore_result=True)
def dispatch_tick() -> dict:
    # Idempotent: two beats or a manual run at the same time are harmless.
    from campaigns.dispatch import dispatch_tick as tick

    return tick().as_dict()
