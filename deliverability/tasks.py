from celery import shared_task

from deliverability.models import WhatsAppAccount
from deliverability.services import domains_check_all
from deliverability.whatsapp import whatsapp_account_sync


@shared_task(name="deliverability.tasks.sync_whatsapp_accounts")
def sync_whatsapp_accounts() -> int:
    """Daily: every WhatsApp account's templates and tier (a failure is kept on the account
    and the next run tries again)."""
    accounts = WhatsAppAccount.objects.select_related("sender").filter(sender__paused=False)
    return sum(not whatsapp_account_sync(account=a) for a in accounts)


@shared_task(name="deliverability.tasks.check_sending_domains")
def check_sending_domains() -> int:
    """The daily DNS re-check of every sending domain (config/settings.py beat schedule)."""
    return domains_check_all()
