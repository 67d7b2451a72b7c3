import json

from django.db import migrations

from contacts import normalize
from contacts.models import JSONType


def custom_fields_fixed(value: object) -> dict:
    """An object for a value that is not one. Nothing could read a list or a string (the
    preview and the import failed on it), but a rep may still want it: it is kept as text
    under "invalid_custom_fields" rather than dropped."""
    if value in (None, "", [], {}):
        return {}
    return {"invalid_custom_fields": json.dumps(value, ensure_ascii=False)[:10_000]}


def custom_fields_flattened(value: dict) -> dict:
    """A nested value (an object or a list) becomes its JSON text: templates print plain
    values only, and the validator now refuses anything else."""
    return {
        key: json.dumps(item, ensure_ascii=False) if isinstance(item, dict | list) else item
        for key, item in value.items()
    }


def country_fixed(value: str) -> tuple[str, str]:
    """(the ISO code the import would have stored, "") for "de" -> ("DE", ""); ("", value)
    for a value that is no country, kept by the caller under "invalid_country"."""
    try:
        return normalize.country(value), ""
    except normalize.Invalid:
        return "", value


def fix_custom_fields(apps, schema_editor):
    Contact = apps.get_model("contacts", "Contact")
    bad = Contact.objects.annotate(kind=JSONType("custom_fields")).exclude(kind="object")
    for contact in bad.only("id", "custom_fields").iterator():
        Contact.objects.filter(id=contact.id).update(
            custom_fields=custom_fields_fixed(contact.custom_fields)
        )
    # What the API stored before the validators: a lower-case or unknown country, nested
    # custom values. Read as plain tuples: this runs once, over every contact.
    rows = Contact.objects.values_list("id", "country", "custom_fields")
    for pk, country, fields in rows.iterator(chunk_size=2000):
        new_fields = custom_fields_flattened(fields)
        new_country, invalid = country_fixed(country) if country else ("", "")
        if invalid:
            new_fields["invalid_country"] = invalid
        if (new_country, new_fields) != (country, fields):
            Contact.objects.filter(id=pk).update(country=new_country, custom_fields=new_fields)


class Migration(migrations.Migration):
    dependencies = [("contacts", "0005_api_tokens")]

    operations = [migrations.RunPython(fix_custom_fields, migrations.RunPython.noop)]
