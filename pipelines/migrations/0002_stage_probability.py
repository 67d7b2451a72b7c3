import django.core.validators
from django.db import migrations, models


def probability_by_kind(apps, schema_editor):
    """Won stages close for sure, lost ones never; open stages keep the field's 20 %."""
    Stage = apps.get_model("pipelines", "Stage")
    Stage.objects.filter(kind="won").update(probability=100)
    Stage.objects.filter(kind="lost").update(probability=0)


class Migration(migrations.Migration):
    dependencies = [("pipelines", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="stage",
            name="probability",
            field=models.PositiveSmallIntegerField(
                default=20,
                db_default=20,
                help_text="Percent, 0-100.",
                validators=[django.core.validators.MaxValueValidator(100)],
            ),
        ),
        migrations.RunPython(probability_by_kind, migrations.RunPython.noop),
    ]
