"""Pipelines, stages, deals, their history and stage rules, taken over from campaigns with
their tables and rows as they are.

It runs after campaigns last changed them (0023), so the tables exist; campaigns 0024,
which removes them from campaigns' own state and points a trigger's deal stage here,
depends on it.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


MOVED = ["pipeline", "stage", "deal", "dealstagechange", "stagerule"]


def content_types_to_pipelines(apps, schema_editor):
    """Permissions, role grants and admin log entries point at these content type rows:
    renaming them keeps every grant and link working."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="campaigns", model__in=MOVED).update(app_label="pipelines")


def content_types_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="pipelines", model__in=MOVED).update(app_label="campaigns")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('campaigns', '0023_webhooks_moved_to_own_app'),
        ('contacts', '0012_shared_models_moved_to_core'),
        ('outreach', '0016_auditentry_moved_to_core'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ('contenttypes', '0002_remove_content_type_name'),
    ]


    operations = [
        migrations.SeparateDatabaseAndState(
            # The tables stay where they are (Meta.db_table): only Django's view of which app
            # owns the models changes.
            state_operations=[
                migrations.CreateModel(
                    name='Pipeline',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=200, unique=True)),
                        ('is_default', models.BooleanField(default=False)),
                    ],
                    options={
                        'db_table': 'campaigns_pipeline',
                    },
                ),
                migrations.CreateModel(
                    name='Deal',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('value', models.DecimalField(blank=True, decimal_places=2, max_digits=12, null=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('campaign', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='deals', to='campaigns.campaign')),
                        ('contact', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deals', to='contacts.contact')),
                        ('owner', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to=settings.AUTH_USER_MODEL)),
                        ('pipeline', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='deals', to='pipelines.pipeline')),
                    ],
                    options={
                        'db_table': 'campaigns_deal',
                        'ordering': ['-updated_at'],
                    },
                ),
                migrations.CreateModel(
                    name='Stage',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=100)),
                        ('position', models.PositiveSmallIntegerField()),
                        ('kind', models.CharField(choices=[('open', 'Open'), ('won', 'Won'), ('lost', 'Lost')], default='open', max_length=10)),
                        ('pipeline', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='stages', to='pipelines.pipeline')),
                    ],
                    options={
                        'db_table': 'campaigns_stage',
                        'ordering': ['pipeline', 'position'],
                    },
                ),
                migrations.CreateModel(
                    name='DealStageChange',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('reason', models.CharField(blank=True, max_length=200)),
                        ('at', models.DateTimeField(auto_now_add=True)),
                        ('changed_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to=settings.AUTH_USER_MODEL)),
                        ('deal', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='history', to='pipelines.deal')),
                        ('message', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='outreach.message')),
                        ('from_stage', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='pipelines.stage')),
                        ('to_stage', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='pipelines.stage')),
                    ],
                    options={
                        'db_table': 'campaigns_dealstagechange',
                        'ordering': ['-at'],
                    },
                ),
                migrations.AddField(
                    model_name='deal',
                    name='stage',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='deals', to='pipelines.stage'),
                ),
                migrations.CreateModel(
                    name='StageRule',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('event', models.CharField(choices=[('reply', 'Any reply'), ('intent:interested', 'Intent: interested'), ('intent:not_now', 'Intent: not now'), ('intent:not_interested', 'Intent: not interested'), ('intent:wrong_person', 'Intent: wrong person'), ('intent:out_of_office', 'Intent: out of office'), ('intent:unsubscribe', 'Intent: unsubscribe')], max_length=40)),
                        ('reason', models.CharField(blank=True, help_text='Recorded in the stage history, e.g. why lost.', max_length=200)),
                        ('pipeline', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='rules', to='pipelines.pipeline')),
                        ('stage', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='pipelines.stage')),
                    ],
                    options={
                        'db_table': 'campaigns_stagerule',
                        'ordering': ['pipeline', 'event'],
                    },
                ),
                migrations.AddConstraint(
                    model_name='stage',
                    constraint=models.UniqueConstraint(fields=('pipeline', 'position'), name='stage_unique_position'),
                ),
                migrations.AddConstraint(
                    model_name='stage',
                    constraint=models.UniqueConstraint(fields=('pipeline', 'name'), name='stage_unique_name'),
                ),
                migrations.AddConstraint(
                    model_name='stagerule',
                    constraint=models.UniqueConstraint(fields=('pipeline', 'event'), name='stagerule_unique_event'),
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_to_pipelines, content_types_back),
    ]
