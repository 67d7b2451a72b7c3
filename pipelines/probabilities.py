"""Default stage probabilities that grow with a stage's place in its pipeline, instead of
the flat 20 % every open stage used to get (pipelines/migrations/0002).

Open stages take the ladder in order (the fifth and later stay at its top), won stages 100,
lost 0. Reps edit them afterwards in the pipeline's admin page; nothing here overwrites a
probability someone changed.
"""

from pipelines.models import Pipeline, Stage

LADDER = (10, 25, 50, 75, 90)
FLAT = 20  # the column default: an open stage nobody gave a probability


def default_probabilities(kinds: list[str]) -> list[int]:
    """The defaults for stages of these kinds, in the pipeline's order."""
    result, step = [], 0
    for kind in kinds:
        if kind == Stage.Kind.WON:
            result.append(100)
        elif kind == Stage.Kind.LOST:
            result.append(0)
        else:
            result.append(LADDER[min(step, len(LADDER) - 1)])
            step += 1
    return result


def stages_set_default_probabilities(*, pipeline: Pipeline) -> int:
    """A new pipeline's stages get the defaults by their order; an open stage whose
    probability someone set (not the flat column default) keeps it. Returns how many
    changed."""
    stages = list(pipeline.stages.order_by("position"))
    changed = []
    for stage, value in zip(stages, default_probabilities([s.kind for s in stages]), strict=True):
        untouched = stage.kind != Stage.Kind.OPEN or stage.probability == FLAT
        if untouched and stage.probability != value:
            stage.probability = value
            changed.append(stage)
    Stage.objects.bulk_update(changed, ["probability"])
    return len(changed)
