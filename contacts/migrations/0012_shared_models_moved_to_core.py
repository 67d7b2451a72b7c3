"""Team, ApiToken and IdempotencyKey now belong to core (core/migrations/0001_initial.py).
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0022_team_moved_to_core'),
        ('contacts', '0011_channel_choices_from_settings'),
        ('core', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            # The table stays where it is (Meta.db_table): only Django's view of which app
            # owns the model changes.
            state_operations=[
                migrations.RemoveField(
                    model_name='idempotencykey',
                    name='user',
                ),
                migrations.RemoveField(
                    model_name='team',
                    name='managers',
                ),
                migrations.RemoveField(
                    model_name='team',
                    name='members',
                ),
                migrations.AlterField(
                    model_name='invitation',
                    name='team',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, to='core.team'),
                ),
                migrations.DeleteModel(
                    name='ApiToken',
                ),
                migrations.DeleteModel(
                    name='IdempotencyKey',
                ),
                migrations.DeleteModel(
                    name='Team',
                ),
            ],
            database_operations=[],
        ),
    ]
