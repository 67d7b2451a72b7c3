"""Trigger permissions for the roles (campaigns/migrations/0004_fill_roles.py ran before
triggers existed, so no role held them): admins everything about triggers, managers add,
change and delete their teams' triggers, reps view their teams' ones. Which rows each may
touch is decided in campaigns/access.py (triggers_visible_to, triggers_changeable_by)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = {
    "admin": {
        "trigger": ("view", "add", "change", "delete"),
        "triggerfire": ("view", "add", "change", "delete"),
        "stepoptions": ("view", "add", "change", "delete"),
        "capturerequest": ("view", "add", "change", "delete"),
    },
    "manager": {"trigger": ("view", "add", "change", "delete")},
    "rep": {"trigger": ("view",)},
}


def grant(apps, schema_editor):
    config = apps.get_app_config("campaigns")
    config.models_module = True
    create_permissions(config, apps=apps, verbosity=0)
    config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, models in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        codenames = [f"{a}_{m}" for m, actions in models.items() for a in actions]
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label="campaigns", codename__in=codenames)
        )


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0017_trigger_team_and_template_team")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
