from celery import shared_task

from deliverability.services import domains_check_all


@shared_task
def check_sending_domains() -> int:
    """The daily DNS re-check of every sending domain (config/settings.py beat schedule)."""
    return domains_check_all()
