"""Teams now belong to core (core/migrations/0001_initial.py); the foreign keys keep their
columns and constraints.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0021_enrollment_live_index'),
        ('core', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            # The table stays where it is (Meta.db_table): only Django's view of which app
            # owns the model changes.
            state_operations=[
                migrations.AlterField(
                    model_name='template',
                    name='team',
                    field=models.ForeignKey(blank=True, help_text='Empty: shared by every team.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='core.team'),
                ),
                migrations.AlterField(
                    model_name='trigger',
                    name='assign_team',
                    field=models.ForeignKey(blank=True, help_text="Assign an owner round robin among the team's members.", null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='core.team'),
                ),
                migrations.AlterField(
                    model_name='trigger',
                    name='team',
                    field=models.ForeignKey(help_text='The team whose accounts this trigger answers from.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='triggers', to='core.team'),
                ),
            ],
            database_operations=[],
        ),
    ]
