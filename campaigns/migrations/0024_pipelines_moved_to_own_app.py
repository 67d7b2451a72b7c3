"""Pipelines, stages, deals, their history and stage rules now belong to the pipelines app
(pipelines/migrations/0001_initial.py); a trigger's deal stage points at pipelines.Stage.
Only Django's view of which app owns them changes: the tables stay (Meta.db_table), so does
the trigger's foreign key constraint.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0023_webhooks_moved_to_own_app'),
        ('pipelines', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='trigger',
                    name='deal_stage',
                    field=models.ForeignKey(blank=True, help_text="Open a deal here, or move the contact's open deal of that pipeline.", null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='pipelines.stage'),
                ),
                migrations.RemoveField(
                    model_name='stagerule',
                    name='stage',
                ),
                migrations.RemoveField(
                    model_name='deal',
                    name='campaign',
                ),
                migrations.RemoveField(
                    model_name='deal',
                    name='contact',
                ),
                migrations.RemoveField(
                    model_name='deal',
                    name='owner',
                ),
                migrations.RemoveField(
                    model_name='deal',
                    name='pipeline',
                ),
                migrations.RemoveField(
                    model_name='deal',
                    name='stage',
                ),
                migrations.RemoveField(
                    model_name='dealstagechange',
                    name='deal',
                ),
                migrations.RemoveField(
                    model_name='dealstagechange',
                    name='changed_by',
                ),
                migrations.RemoveField(
                    model_name='dealstagechange',
                    name='from_stage',
                ),
                migrations.RemoveField(
                    model_name='dealstagechange',
                    name='message',
                ),
                migrations.RemoveField(
                    model_name='dealstagechange',
                    name='to_stage',
                ),
                migrations.RemoveField(
                    model_name='stagerule',
                    name='pipeline',
                ),
                migrations.RemoveField(
                    model_name='stage',
                    name='pipeline',
                ),
                migrations.DeleteModel(
                    name='Deal',
                ),
                migrations.DeleteModel(
                    name='DealStageChange',
                ),
                migrations.DeleteModel(
                    name='Pipeline',
                ),
                migrations.DeleteModel(
                    name='Stage',
                ),
                migrations.DeleteModel(
                    name='StageRule',
                ),
            ],
            database_operations=[],
        ),
    ]
