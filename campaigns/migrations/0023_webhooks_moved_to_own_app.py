"""Outgoing webhooks now belong to the webhooks app (webhooks/migrations/0001_initial.py).
"""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0022_team_moved_to_core'),
        ('webhooks', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            # The table stays where it is (Meta.db_table): only Django's view of which app
            # owns the model changes.
            state_operations=[
                migrations.RemoveField(
                    model_name='webhookdelivery',
                    name='replay_of',
                ),
                migrations.RemoveField(
                    model_name='webhookdelivery',
                    name='subscriber',
                ),
                migrations.DeleteModel(
                    name='WebhookAttempt',
                ),
                migrations.DeleteModel(
                    name='WebhookDelivery',
                ),
                migrations.DeleteModel(
                    name='WebhookSubscriber',
                ),
            ],
            database_operations=[],
        ),
    ]
