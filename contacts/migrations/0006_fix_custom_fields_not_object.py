import json

from django.db import migrations

from contacts.models import JSONType


def custom_fields_fixed(value: object) -> dict:
    """An object for a value that is not one. Nothing could read a list or a string (the
    preview and the import failed on it), but a rep may still want it: it is kept as text
    under "invalid_custom_fields" rather than dropped."""
    if value in (None, "", [], {}):
        return {}
    return {"invalid_custom_fields": json.dumps(value, ensure_ascii=False)[:10_000]}


def fix_custom_fields(apps, schema_editor):
    Contact = apps.get_model("contacts", "Contact")
    bad = Contact.objects.annotate(kind=JSONType("custom_fields")).exclude(kind="object")
    for contact in bad.only("id", "custom_fields").iterator():
        Contact.objects.filter(id=contact.id).update(
            custom_fields=custom_fields_fixed(contact.custom_fields)
        )


class Migration(migrations.Migration):
    dependencies = [("contacts", "0005_api_tokens")]

    operations = [migrations.RunPython(fix_custom_fields, migrations.RunPython.noop)]
