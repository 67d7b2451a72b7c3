"""Stage probabilities that grow with the stage's place, for new pipelines and for those
still at the old flat default; edited ones are left alone."""

import importlib

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from pipelines.models import Pipeline, Stage
from tests.inbox.helpers import rep

pytestmark = pytest.mark.django_db


def _probabilities(pipeline) -> dict[str, int]:
    return dict(pipeline.stages.order_by("position").values_list("name", "probability"))


def test_the_default_pipelines_have_probabilities_by_stage_order():
    assert _probabilities(Pipeline.objects.get(name="Sales")) == {
        "Contacted": 10,
        "Replied": 25,
        "Interested": 50,
        "Meeting": 75,
        "Proposal": 90,
        "Won": 100,
        "Lost": 0,
    }


def test_the_migration_changes_only_pipelines_still_at_the_flat_default():
    flat, edited = Pipeline.objects.create(name="Flat"), Pipeline.objects.create(name="Edited")
    for pipeline in (flat, edited):
        for i, (name, kind, p) in enumerate(
            [("New", "open", 20), ("Talking", "open", 20), ("Won", "won", 100), ("Lost", "lost", 0)]
        ):
            Stage.objects.create(pipeline=pipeline, name=name, position=i, kind=kind, probability=p)
    edited.stages.filter(name="Talking").update(probability=60)
    migration = importlib.import_module("pipelines.migrations.0004_stage_probabilities_by_order")
    migration.probabilities_by_order(MigrationLoader(connection).project_state().apps, None)
    assert _probabilities(flat) == {"New": 10, "Talking": 25, "Won": 100, "Lost": 0}
    assert _probabilities(edited) == {"New": 20, "Talking": 60, "Won": 100, "Lost": 0}


def test_a_pipeline_added_in_the_admin_gets_them_unless_one_is_typed_in(client):
    client.force_login(rep("boss", is_superuser=True))
    rows = [("Lead", "open", "20"), ("Call", "open", "20"), ("Demo", "open", "40")]
    rows += [("Signed", "won", "20"), ("Gone", "lost", "20")]
    data = {
        "name": "Partners",
        "stages-TOTAL_FORMS": str(len(rows)),
        "stages-INITIAL_FORMS": "0",
        "stages-MIN_NUM_FORMS": "0",
        "stages-MAX_NUM_FORMS": "1000",
    }
    for i, (name, kind, p) in enumerate(rows):
        data |= {
            f"stages-{i}-name": name,
            f"stages-{i}-position": str(i + 1),
            f"stages-{i}-kind": kind,
            f"stages-{i}-probability": p,
        }
    r = client.post("/admin/pipelines/pipeline/add/", data)
    assert r.status_code == 302, r.content.decode()[:3000]
    partners = Pipeline.objects.get(name="Partners")
    assert _probabilities(partners) == {
        "Lead": 10,
        "Call": 25,
        "Demo": 40,  # typed in: kept
        "Signed": 100,
        "Gone": 0,
    }
    # Editable afterwards: changing the pipeline leaves them as set.
    partners.stages.filter(name="Lead").update(probability=20)
    data |= {"stages-INITIAL_FORMS": "0", "stages-TOTAL_FORMS": "0"}
    client.post(f"/admin/pipelines/pipeline/{partners.pk}/change/", data)
    assert _probabilities(partners)["Lead"] == 20
