from dataclasses import dataclass


@dataclass
class Row:
    """One line of the benchmark table: ours versus the baseline measured in the same run."""

    name: str
    ours: float
    baseline: float
    unit: str
    target: float | None = None  # minimum acceptable ratio ours/baseline

    @property
    def ratio(self) -> float:
        return self.ours / self.baseline if self.baseline else float("inf")

    @property
    def ok(self) -> bool:
        return self.target is None or self.ratio >= self.target

    def render(self) -> str:
        target = f"≥{self.target:.2f}" if self.target is not None else "-"
        flag = "" if self.ok else "  BELOW TARGET"
        return (
            f"{self.name:<44} {self.ours:>10.1f} {self.unit:<3} {self.baseline:>10.1f} "
            f"{self.unit:<3} {self.ratio:>6.2f}x {target:>7}{flag}"
        )
