from django.db import migrations, models
from django.db.models import F


def in_flight_count_as_started(apps, schema_editor):
    # A send in flight during the upgrade may have reached the platform: the reconciler must
    # ask the platform about it, as before, not requeue it as never started.
    Message = apps.get_model("outreach", "Message")
    Message.objects.filter(status="sending").update(started_attempt=F("attempts"))


class Migration(migrations.Migration):
    dependencies = [
        ("outreach", "0009_message_author"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="started_attempt",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.RunPython(in_flight_count_as_started, migrations.RunPython.noop),
    ]
