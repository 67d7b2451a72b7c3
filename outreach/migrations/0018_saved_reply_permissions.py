"""Saved reply permissions for the admin role (the roles were filled before saved replies
existed): admins manage every team's in the admin; reps and managers use the inbox's page
(inbox/replies/), scoped in outreach/access.py."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def grant(apps, schema_editor):
    config = apps.get_app_config("outreach")
    config.models_module = True
    create_permissions(config, apps=apps, verbosity=0)
    config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="admin")
    codenames = [f"{a}_savedreply" for a in ("view", "add", "change", "delete")]
    group.permissions.add(
        *Permission.objects.filter(content_type__app_label="outreach", codename__in=codenames)
    )


class Migration(migrations.Migration):
    dependencies = [
        ("outreach", "0017_saved_reply"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
