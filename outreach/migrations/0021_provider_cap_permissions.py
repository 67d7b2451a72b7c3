"""Provider cap permissions for the roles (filled before provider caps existed): admins
manage them on a sender's admin page, as they manage senders; managers and reps see them
there, as they see senders (campaigns/migrations/0004_fill_roles.py)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = {"admin": ("view", "add", "change", "delete"), "manager": ("view",), "rep": ("view",)}


def grant(apps, schema_editor):
    config = apps.get_app_config("outreach")
    config.models_module = True
    create_permissions(config, apps=apps, verbosity=0)
    config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, actions in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        codenames = [f"{a}_senderprovidercap" for a in actions]
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label="outreach", codename__in=codenames)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("outreach", "0020_provider_caps"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
