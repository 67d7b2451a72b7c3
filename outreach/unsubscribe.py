from django.db import transaction

from contacts.models import Identity, Suppression
from contacts.services import identity_opt_out


@transaction.atomic
def email_unsubscribe(*, address: str, source: str) -> None:
    """Suppress the address for good and opt its identity out, with an audit record."""
    address = address.lower()
    Suppression.objects.get_or_create(
        channel="email", value=address, defaults={"reason": source[:200]}
    )
    for identity in Identity.objects.filter(channel="email", value=address, opted_out_at=None):
        identity_opt_out(identity=identity, source=source)
