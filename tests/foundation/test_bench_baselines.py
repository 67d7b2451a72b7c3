"""The benchmark table cannot pass without a baseline: a ratio against a baseline that was
not measured (missing, zero, not a number) fails the run instead of reading as infinite."""

import math

import pytest

from bench.common import BaselineMissing, Row, Target


@pytest.mark.parametrize("baseline", [None, 0, 0.0, -1.0, math.nan, math.inf])
def test_a_row_without_a_measured_baseline_fails_loudly(baseline):
    with pytest.raises(BaselineMissing, match="import vs django-import-export: no baseline"):
        Row("import vs django-import-export", 5_000.0, baseline, "r/s", target=30.0)


def test_a_row_with_a_measured_baseline_reports_its_ratio_against_the_target():
    row = Row("dispatch", 1_300.0, 2_600.0, "r/s", target=0.5)
    assert row.ratio == 0.5 and row.ok
    slower = Row("dispatch", 1_200.0, 2_600.0, "r/s", target=0.5)
    assert not slower.ok and "BELOW TARGET" in slower.render()


def test_a_fixed_target_is_not_a_ratio_and_says_which_side_passes():
    page = Target("overview", 129.0, 300.0, "ms", better="lower")
    assert page.ok and "≤300.0 ms" in page.render() and "x" not in page.render().split()[-1]
    memory = Target("peak RSS", 320.0, 300.0, "MB", better="lower")
    assert not memory.ok and "MISSED" in memory.render()
    with pytest.raises(BaselineMissing):
        Target("lint", math.nan, 20.0, "k/s", better="higher")
