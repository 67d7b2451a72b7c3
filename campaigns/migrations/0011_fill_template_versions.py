from django.db import migrations


def fill_template_versions(apps, schema_editor):
    """v1 for every template: what it sends today (messages sent before keep no version)."""
    Template = apps.get_model("campaigns", "Template")
    TemplateVariant = apps.get_model("campaigns", "TemplateVariant")
    TemplateVersion = apps.get_model("campaigns", "TemplateVersion")
    for template in Template.objects.exclude(versions__isnull=False).iterator():
        variants = [
            {"id": v.id, "label": v.label, "subject": v.subject, "body": v.body}
            for v in TemplateVariant.objects.filter(template=template).order_by("id")
        ]
        TemplateVersion.objects.create(
            template=template,
            number=1,
            subject=template.subject,
            body=template.body,
            attachments=template.attachments or [],
            variants=variants,
            created_by_id=template.created_by_id,
        )


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0010_template_versions")]

    operations = [migrations.RunPython(fill_template_versions, migrations.RunPython.noop)]
