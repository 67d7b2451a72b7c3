from django.db import migrations

# Frozen copy of pipelines/probabilities.py as it was when this ran.
LADDER = (10, 25, 50, 75, 90)
FLAT = 20


def probabilities_by_order(apps, schema_editor):
    """Pipelines still at the old defaults (every open stage 20 %, won 100, lost 0, as
    0002 left them) get probabilities that grow with the stage's place; a pipeline where
    someone changed any stage's probability is left as it is."""
    Pipeline = apps.get_model("pipelines", "Pipeline")
    for pipeline in Pipeline.objects.all():
        stages = list(pipeline.stages.order_by("position"))
        old = {"open": FLAT, "won": 100, "lost": 0}
        if not stages or any(s.probability != old.get(s.kind, FLAT) for s in stages):
            continue
        step = 0
        for stage in stages:
            if stage.kind == "open":
                stage.probability = LADDER[min(step, len(LADDER) - 1)]
                step += 1
                stage.save(update_fields=["probability"])


class Migration(migrations.Migration):
    dependencies = [("pipelines", "0003_pipeline_contacted_in_first_stage")]

    operations = [migrations.RunPython(probabilities_by_order, migrations.RunPython.noop)]
