from django.db import migrations

# (pipeline, default?, [(stage, kind)], {event: (stage, reason)})
PIPELINES = [
    (
        "Sales",
        True,
        [
            ("Contacted", "open"), ("Replied", "open"), ("Interested", "open"),
            ("Meeting", "open"), ("Proposal", "open"), ("Won", "won"), ("Lost", "lost"),
        ],
        {
            "reply": ("Replied", "first reply"),
            "intent:interested": ("Interested", "reply labelled interested"),
            "intent:not_interested": ("Lost", "not interested"),
            "intent:unsubscribe": ("Lost", "unsubscribed"),
        },
    ),
    (
        "Influencers",
        False,
        [
            ("Contacted", "open"), ("Negotiating", "open"), ("Agreed", "open"),
            ("Content live", "open"), ("Paid", "won"), ("Declined", "lost"),
        ],
        {
            "intent:interested": ("Negotiating", "reply labelled interested"),
            "intent:not_interested": ("Declined", "not interested"),
            "intent:unsubscribe": ("Declined", "unsubscribed"),
        },
    ),
]  # fmt: skip


def fill_default_pipelines(apps, schema_editor):
    Pipeline = apps.get_model("campaigns", "Pipeline")
    Stage = apps.get_model("campaigns", "Stage")
    StageRule = apps.get_model("campaigns", "StageRule")
    for name, default, stages, rules in PIPELINES:
        if Pipeline.objects.filter(name=name).exists():
            continue  # never touch a pipeline someone already set up
        pipeline = Pipeline.objects.create(
            name=name, is_default=default and not Pipeline.objects.filter(is_default=True).exists()
        )
        by_name = {
            s: Stage.objects.create(pipeline=pipeline, name=s, position=i, kind=kind)
            for i, (s, kind) in enumerate(stages, start=1)
        }
        for event, (stage, reason) in rules.items():
            StageRule.objects.create(
                pipeline=pipeline, event=event, stage=by_name[stage], reason=reason
            )


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0005_pipeline_rules")]

    operations = [migrations.RunPython(fill_default_pipelines, migrations.RunPython.noop)]
