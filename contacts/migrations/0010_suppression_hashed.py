"""Suppression entries keep a peppered hash of channel and address, never the address
(as erasure always did: no plaintext address is kept); the erased-person hashes of
ErasedSuppression become ordinary entries of the one table."""

import hashlib
import hmac

from django.conf import settings
from django.db import migrations, models

ERASED_REASON = "this address belongs to an erased contact"  # contacts.services


def _digest(channel: str, value: str) -> str:
    # The same formula as contacts.services.suppression_digest at the time of writing.
    message = f"{channel}:{value.strip().casefold()}".encode()
    return hmac.new(settings.SUPPRESSION_PEPPER.encode(), message, hashlib.sha256).hexdigest()


def hash_and_merge(apps, schema_editor):
    Suppression = apps.get_model("contacts", "Suppression")
    ErasedSuppression = apps.get_model("contacts", "ErasedSuppression")
    seen: set[str] = set()
    for row in Suppression.objects.order_by("pk"):
        digest = _digest(row.channel, row.value)
        if digest in seen:  # the same address in another case: the oldest entry stays
            row.delete()
            continue
        seen.add(digest)
        Suppression.objects.filter(pk=row.pk).update(digest=digest, value="")
    for erased in ErasedSuppression.objects.order_by("pk"):
        # The erased identity's channel is inside the hash but was not kept beside it.
        if erased.digest in seen:
            Suppression.objects.filter(digest=erased.digest).update(reason=ERASED_REASON)
            continue
        seen.add(erased.digest)
        row = Suppression.objects.create(channel="", digest=erased.digest, reason=ERASED_REASON)
        Suppression.objects.filter(pk=row.pk).update(created_at=erased.created_at)


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0009_invitations"),
    ]

    operations = [
        migrations.AddField(
            model_name="suppression",
            name="digest",
            field=models.CharField(max_length=64, null=True, editable=False),
        ),
        migrations.RemoveConstraint(
            model_name="suppression",
            name="suppression_unique_value",
        ),
        # Irreversible in effect: the addresses are gone once hashed.
        migrations.RunPython(hash_and_merge, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name="suppression",
            name="value",
        ),
        migrations.AlterField(
            model_name="suppression",
            name="digest",
            field=models.CharField(max_length=64, unique=True, editable=False),
        ),
        migrations.DeleteModel(
            name="ErasedSuppression",
        ),
    ]
