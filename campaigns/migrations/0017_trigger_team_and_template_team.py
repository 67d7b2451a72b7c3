"""Triggers and templates belong to a team.

Existing triggers are placed in the team of the account they answer from (its owner's
team), else of the campaign they enrol into (its owner's), else in the only team when there
is just one. A trigger that cannot be placed keeps team null: it then fires only on the
account it names, or, naming none, only on shared (owner-less) accounts, never on an
account a team owns (campaigns/triggers/services.py). That is the conservative reading of
"any account": before teams, it reached every team's accounts, which is the bug this fixes.

Templates take the team of the user who created them; the others stay shared (null).
"""

import django.db.models.deletion
from django.db import migrations, models


def _team_of(Team, user_id):
    if user_id is None:
        return None
    member = Team.objects.filter(members=user_id).order_by("id").first()
    return member or Team.objects.filter(managers=user_id).order_by("id").first()


def place(apps, schema_editor):
    Team = apps.get_model("contacts", "Team")
    Trigger = apps.get_model("campaigns", "Trigger")
    Template = apps.get_model("campaigns", "Template")
    teams = list(Team.objects.order_by("id")[:2])
    only = teams[0] if len(teams) == 1 else None
    for trigger in Trigger.objects.select_related("sender", "campaign"):
        team = _team_of(Team, trigger.sender.owner_id if trigger.sender_id else None)
        team = team or _team_of(Team, trigger.campaign.owner_id if trigger.campaign_id else None)
        team = team or only
        if team is not None:
            Trigger.objects.filter(id=trigger.id).update(team=team)
    for template in Template.objects.exclude(created_by=None):
        team = _team_of(Team, template.created_by_id)
        if team is not None:
            Template.objects.filter(id=template.id).update(team=team)


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0016_enrollment_state_label"),
        ("contacts", "0008_import_warnings"),
        ("outreach", "0010_message_send_started"),
    ]

    operations = [
        migrations.AddField(
            model_name="template",
            name="team",
            field=models.ForeignKey(
                blank=True,
                help_text="Empty: shared by every team.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="contacts.team",
            ),
        ),
        migrations.AddField(
            model_name="trigger",
            name="team",
            field=models.ForeignKey(
                help_text="The team whose accounts this trigger answers from.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="triggers",
                to="contacts.team",
            ),
        ),
        migrations.AlterField(
            model_name="trigger",
            name="sender",
            field=models.ForeignKey(
                blank=True,
                help_text="Empty: any account on this channel that the team's members or managers own "
                "(a shared account answers only when named here).",
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="triggers",
                to="outreach.senderaccount",
            ),
        ),
        migrations.AlterField(
            model_name="triggerfire",
            name="outcome",
            field=models.CharField(
                choices=[
                    ("fired", "Fired"),
                    ("repeat", "Already fired for this person"),
                    ("blocked", "Opted out or suppressed"),
                    ("skipped", "Skipped: its reply cannot be rendered"),
                ],
                max_length=10,
            ),
        ),
        migrations.RunPython(place, migrations.RunPython.noop),
    ]
