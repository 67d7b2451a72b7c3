"""The two kinds of line `make bench` prints, kept apart:

- `Row`: our figure against a baseline that did the same work on the same machine in the
  same run, and their ratio. A baseline that is missing, zero, negative or not a number is an
  error (`BaselineMissing`), raised when the row is made: a ratio against nothing would pass
  any target.
- `Target`: our figure against a fixed number written in the benchmark (a page in 300 ms, a
  memory budget). Nothing was measured to compare with, so it is printed in its own table.
"""

import math
from dataclasses import dataclass
from typing import Literal


class BaselineMissing(Exception):
    """A baseline was not measured (or measured nothing): the run must fail, not compare."""


def _measured(value: float | None) -> bool:
    return value is not None and math.isfinite(value) and value > 0


@dataclass(frozen=True)
class Row:
    """One line of the ratio table: ours versus the baseline measured in the same run."""

    name: str
    ours: float
    baseline: float | None
    unit: str
    target: float | None = None  # minimum acceptable ratio ours/baseline (maximum: see better)
    baseline_unit: str = ""  # when the baseline counts something else (no-op tasks)
    # "lower" for a time (a latency under load against the same latency idle): the target
    # is then the highest acceptable ratio.
    better: Literal["higher", "lower"] = "higher"

    def __post_init__(self) -> None:
        if not _measured(self.baseline):
            raise BaselineMissing(
                f"{self.name}: no baseline measured (got {self.baseline!r}); a ratio needs a"
                " baseline that did the same work in this run"
            )
        if self.ours is None or not math.isfinite(self.ours) or self.ours < 0:
            raise BaselineMissing(f"{self.name}: our figure is {self.ours!r}, not a measurement")

    @property
    def ratio(self) -> float:
        assert self.baseline  # checked in __post_init__
        return self.ours / self.baseline

    @property
    def ok(self) -> bool:
        if self.target is None:
            return True
        return self.ratio <= self.target if self.better == "lower" else self.ratio >= self.target

    def render(self) -> str:
        side = "≤" if self.better == "lower" else "≥"
        target = f"{side}{self.target:.2f}" if self.target is not None else "-"
        flag = "" if self.ok else "  BELOW TARGET"
        return (
            f"{self.name:<52} {self.ours:>10.1f} {self.unit:<3} {self.baseline:>10.1f} "
            f"{self.baseline_unit or self.unit:<3} {self.ratio:>6.2f}x {target:>7}{flag}"
        )


@dataclass(frozen=True)
class Target:
    """One line of the fixed-target table: ours versus a number written in the benchmark."""

    name: str
    ours: float
    limit: float
    unit: str
    better: Literal["lower", "higher"]  # which side of the limit passes

    def __post_init__(self) -> None:
        if not math.isfinite(self.ours) or self.ours < 0:
            raise BaselineMissing(f"{self.name}: our figure is {self.ours!r}, not a measurement")

    @property
    def ok(self) -> bool:
        return self.ours <= self.limit if self.better == "lower" else self.ours >= self.limit

    def render(self) -> str:
        limit = f"{'≤' if self.better == 'lower' else '≥'}{self.limit:,.1f} {self.unit}"
        flag = "" if self.ok else "  MISSED"
        return f"{self.name:<52} {self.ours:>10.1f} {self.unit:<3} {limit:>16}{flag}"


Line = Row | Target


# `BENCH_SCALE=ci` runs every benchmark at a size that takes seconds, so CI checks that each
# one still runs (tests/foundation/test_benchmarks_run.py); unset, or `full`, the sizes the
# figures in README.md and docs/scaling.md were measured at. A benchmark's own variable
# (BENCH_IMPORT_ROWS, …) wins over both.
SCALES = ("full", "ci")


def scale() -> str:
    import os

    value = os.environ.get("BENCH_SCALE", "full") or "full"
    if value not in SCALES:
        raise SystemExit(f"BENCH_SCALE must be one of {', '.join(SCALES)}, not {value!r}")
    return value


def size(variable: str, full: int, ci: int) -> int:
    """A benchmark's size: its own environment variable if set, else by BENCH_SCALE."""
    import os

    own = os.environ.get(variable)
    if own:
        return int(own)
    return ci if scale() == "ci" else full
