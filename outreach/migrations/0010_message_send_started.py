from django.db import migrations, models


class Migration(migrations.Migration):
    # Nullable, with no default: rows claimed or written by processes still on the previous
    # version stay null, which the reconciler treats as it always did (ask the platform).
    dependencies = [
        ("outreach", "0009_message_author"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="send_started",
            field=models.BooleanField(blank=True, null=True),
        ),
    ]
