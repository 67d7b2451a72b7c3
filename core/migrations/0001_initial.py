"""The models every app shares, taken over from contacts (Team, ApiToken, IdempotencyKey)
and outreach (AuditEntry) with their tables and rows as they are.

It runs after the last migration of each app that made or granted them, so their tables
exist and the old apps' migrations (which remove the models from their own state and depend
on this one) always find the model owned somewhere.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


MOVED = [
    ("contacts", "team"),
    ("contacts", "apitoken"),
    ("contacts", "idempotencykey"),
    ("outreach", "auditentry"),
]


def content_types_to_core(apps, schema_editor):
    """Existing permissions, role grants (campaigns 0004, 0018) and admin log entries point
    at these content type rows: renaming them keeps every grant and link working."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    for app_label, model in MOVED:
        ContentType.objects.filter(app_label=app_label, model=model).update(app_label="core")


def content_types_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for app_label, model in MOVED:
        ContentType.objects.filter(app_label="core", model=model).update(app_label=app_label)


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("campaigns", "0021_enrollment_live_index"),
        ("outreach", "0015_sending_switch_plural"),
        ("contacts", "0011_channel_choices_from_settings"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            # The table stays where it is (Meta.db_table): only Django's view of which app
            # owns the model changes.
            state_operations=[
                migrations.CreateModel(
                    name='ApiToken',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(help_text='What uses it, e.g. “CRM sync”.', max_length=100)),
                        ('prefix', models.CharField(editable=False, help_text='To recognise it.', max_length=12)),
                        ('digest', models.CharField(editable=False, max_length=64, unique=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('last_used_at', models.DateTimeField(blank=True, editable=False, null=True)),
                        ('expires_at', models.DateTimeField(blank=True, editable=False, help_text='Empty: never expires.', null=True)),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='api_tokens', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'verbose_name': 'API token',
                        'db_table': 'contacts_apitoken',
                        'ordering': ['user', '-created_at'],
                    },
                ),
                migrations.CreateModel(
                    name='Team',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=100, unique=True)),
                        ('managers', models.ManyToManyField(blank=True, related_name='managed_teams', to=settings.AUTH_USER_MODEL)),
                        ('members', models.ManyToManyField(blank=True, related_name='teams', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'contacts_team',
                        'ordering': ['name'],
                    },
                ),
                migrations.CreateModel(
                    name='AuditEntry',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('at', models.DateTimeField(auto_now_add=True)),
                        ('action', models.CharField(help_text='e.g. campaign.launch, sender.pause', max_length=50)),
                        ('target_type', models.CharField(blank=True, max_length=50)),
                        ('target_id', models.BigIntegerField(blank=True, null=True)),
                        ('target_repr', models.CharField(blank=True, max_length=200)),
                        ('detail', models.CharField(blank=True, max_length=300)),
                        ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'verbose_name_plural': 'audit entries',
                        'db_table': 'outreach_auditentry',
                        'ordering': ['-at', '-id'],
                        'indexes': [models.Index(fields=['target_type', 'target_id', '-at'], name='audit_target')],
                    },
                ),
                migrations.CreateModel(
                    name='IdempotencyKey',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('key', models.CharField(max_length=255)),
                        ('fingerprint', models.CharField(max_length=64)),
                        ('status_code', models.PositiveSmallIntegerField(blank=True, null=True)),
                        ('response', models.JSONField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'contacts_idempotencykey',
                        'constraints': [models.UniqueConstraint(fields=('user', 'key'), name='idempotency_unique_user_key')],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_to_core, content_types_back),
    ]
