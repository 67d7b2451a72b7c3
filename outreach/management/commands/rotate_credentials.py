from django.core.management.base import BaseCommand

from outreach.models import SenderAccount


class Command(BaseCommand):
    help = "Re-encrypt every stored credential with the first key in CREDENTIALS_KEYS."

    def handle(self, *args, **options) -> None:
        count = 0
        for sender in SenderAccount.objects.exclude(credentials=""):
            # Reading decrypts with any known key; saving encrypts with the first one.
            sender.save(update_fields=["credentials"])
            count += 1
        self.stdout.write(f"Re-encrypted credentials of {count} sender account(s).")
