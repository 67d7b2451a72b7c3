"""Outgoing webhooks, taken over from campaigns with their tables and rows as they are.

It runs after campaigns made them (0003) and changed them last (0020), so the tables
exist; campaigns 0021, which removes them from campaigns' own state, depends on it.
"""

import django.db.models.deletion
import outreach.fields
import webhooks.models
from django.db import migrations, models


MOVED = ["webhooksubscriber", "webhookdelivery", "webhookattempt"]


def content_types_to_webhooks(apps, schema_editor):
    """Permissions, role grants and admin log entries point at these content type rows:
    renaming them keeps every grant and link working."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="campaigns", model__in=MOVED).update(app_label="webhooks")


def content_types_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="webhooks", model__in=MOVED).update(app_label="campaigns")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("campaigns", "0022_team_moved_to_core"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            # The table stays where it is (Meta.db_table): only Django's view of which app
            # owns the model changes.
            state_operations=[
                migrations.CreateModel(
                    name='WebhookSubscriber',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('url', models.URLField(max_length=500)),
                        ('events', models.JSONField(default=list, help_text='Event names, e.g. reply.received.')),
                        ('secret', outreach.fields.EncryptedTextField(default=webhooks.models.new_secret, help_text='Signs every delivery (HMAC).')),
                        ('active', models.BooleanField(default=True)),
                        ('description', models.CharField(blank=True, max_length=200)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                    ],
                    options={
                        'db_table': 'campaigns_webhooksubscriber',
                        'ordering': ['url'],
                    },
                ),
                migrations.CreateModel(
                    name='WebhookDelivery',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('event', models.CharField(choices=[('reply.received', 'Reply received'), ('reply.intent_labelled', 'Reply intent labelled'), ('deal.stage_changed', 'Deal stage changed'), ('contact.opted_out', 'Contact opted out'), ('message.failed', 'Message failed')], max_length=50)),
                        ('payload', models.JSONField()),
                        ('status', models.CharField(choices=[('pending', 'Pending (will be tried at next_attempt_at)'), ('succeeded', 'Delivered'), ('failed', 'Gave up')], default='pending', max_length=10)),
                        ('attempts', models.PositiveSmallIntegerField(default=0)),
                        ('next_attempt_at', models.DateTimeField(blank=True, null=True)),
                        ('last_status_code', models.PositiveSmallIntegerField(blank=True, null=True)),
                        ('last_error', models.CharField(blank=True, max_length=300)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('delivered_at', models.DateTimeField(blank=True, null=True)),
                        ('replay_of', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='webhooks.webhookdelivery')),
                        ('subscriber', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='webhooks.webhooksubscriber')),
                    ],
                    options={
                        'verbose_name_plural': 'webhook deliveries',
                        'db_table': 'campaigns_webhookdelivery',
                        'ordering': ['-id'],
                    },
                ),
                migrations.CreateModel(
                    name='WebhookAttempt',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('at', models.DateTimeField(auto_now_add=True)),
                        ('status_code', models.PositiveSmallIntegerField(blank=True, null=True)),
                        ('response_body', models.TextField(blank=True)),
                        ('error', models.CharField(blank=True, max_length=300)),
                        ('duration_ms', models.PositiveIntegerField(default=0)),
                        ('delivery', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='log', to='webhooks.webhookdelivery')),
                    ],
                    options={
                        'db_table': 'campaigns_webhookattempt',
                        'ordering': ['at', 'id'],
                    },
                ),
                migrations.AddIndex(
                    model_name='webhookdelivery',
                    index=models.Index(fields=['status', 'next_attempt_at'], name='webhook_delivery_due'),
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_to_webhooks, content_types_back),
    ]
