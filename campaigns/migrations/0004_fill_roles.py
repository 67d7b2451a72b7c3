"""Roles as Django groups: admin, manager, rep, with their model permissions.

Which rows each role sees is decided in code (contacts/access.py and friends); these
permissions decide which kinds of action it may take.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ALL = ("view", "add", "change", "delete")
RW = ("view", "add", "change")
R = ("view",)
RA = ("view", "add")

MANAGER = {
    "contacts": {
        "contact": ALL, "identity": ALL, "tag": ALL, "consentrecord": RA, "suppression": RA,
        "contactimport": ALL, "savedmapping": ALL, "team": R,
    },
    "outreach": {
        "conversation": RW, "message": RA, "senderaccount": R, "manualtask": RW,
        "messageevent": R,
    },
    "campaigns": {
        "campaign": ALL, "enrollment": ALL, "deal": ALL, "dealstagechange": RA,
        "sequence": ALL, "step": ALL, "template": ALL, "templatevariant": ALL,
        "pipeline": R, "stage": R, "stepsend": R,
    },
}
REP = {
    "contacts": {
        "contact": RW, "identity": RW, "tag": RA, "consentrecord": RA, "contactimport": RA,
        "savedmapping": RA,
    },
    "outreach": {
        "conversation": RW, "message": RA, "senderaccount": R, "manualtask": RW,
        "messageevent": R,
    },
    "campaigns": {
        "campaign": RW, "enrollment": ALL, "deal": RW, "dealstagechange": RA,
        "sequence": RW, "step": RW, "template": RW, "templatevariant": RW,
        "pipeline": R, "stage": R, "stepsend": R,
    },
}


def _permissions(apps, spec):
    Permission = apps.get_model("auth", "Permission")
    wanted = [
        (app, f"{action}_{model}")
        for app, models in spec.items()
        for model, actions in models.items()
        for action in actions
    ]
    return [Permission.objects.get(content_type__app_label=a, codename=c) for a, c in wanted]


def fill_roles(apps, schema_editor):
    # Permissions are normally created after all migrations ran; create them now.
    for config in apps.get_app_configs():
        config.models_module = True
        create_permissions(config, apps=apps, verbosity=0)
        config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    admin, _ = Group.objects.get_or_create(name="admin")
    admin.permissions.set(
        Permission.objects.filter(
            content_type__app_label__in=["contacts", "outreach", "campaigns", "auth", "authtoken"]
        )
    )
    for name, spec in (("manager", MANAGER), ("rep", REP)):
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(_permissions(apps, spec))


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("authtoken", "0004_alter_tokenproxy_options"),
        ("contacts", "0003_teams_and_idempotency_keys"),
        ("outreach", "0002_channels_policy_and_mailbox_cursor"),
        ("campaigns", "0003_outgoing_webhooks"),
    ]

    operations = [migrations.RunPython(fill_roles, migrations.RunPython.noop)]
