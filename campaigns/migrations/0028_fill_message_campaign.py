"""Campaign messages sent before `Message.campaign_id` existed get their campaign from their
step link's enrolment; new ones get it from the dispatcher that creates them."""

from django.db import migrations

FILL = """
UPDATE outreach_message SET campaign_id = (
    SELECT e.campaign_id FROM campaigns_stepsend s
    JOIN campaigns_enrollment e ON e.id = s.enrollment_id
    WHERE s.message_id = outreach_message.id
)
WHERE campaign_id IS NULL AND id IN (SELECT message_id FROM campaigns_stepsend)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0027_step_whatsapp_template_and_variables"),
        ("outreach", "0024_message_campaign_held"),
    ]

    operations = [migrations.RunSQL(FILL, migrations.RunSQL.noop)]
