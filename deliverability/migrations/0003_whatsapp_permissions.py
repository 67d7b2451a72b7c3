"""Admins may view, add, change and delete the senders' guard thresholds, WhatsApp accounts and
their synced templates (the roles of campaigns/migrations/0004_fill_roles.py predate them);
managers and reps do not."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

MODELS = ("senderguard", "whatsappaccount", "whatsapptemplate")


def grant(apps, schema_editor):
    config = apps.get_app_config("deliverability")
    config.models_module = True
    create_permissions(config, apps=apps, verbosity=0)
    config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="admin")
    codenames = [f"{a}_{m}" for m in MODELS for a in ("view", "add", "change", "delete")]
    group.permissions.add(
        *Permission.objects.filter(content_type__app_label="deliverability", codename__in=codenames)
    )


class Migration(migrations.Migration):
    dependencies = [
        ("deliverability", "0002_whatsapp_accounts_and_templates"),
        ("campaigns", "0004_fill_roles"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
