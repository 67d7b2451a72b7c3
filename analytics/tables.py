"""What every dashboard panel shares: rates and tables (a page's table is also its CSV)."""

from __future__ import annotations

from dataclasses import dataclass, field


def rate(part: int | None, whole: int | None) -> float | None:
    if part is None or not whole:
        return None
    return part / whole


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


@dataclass
class Table:
    """A table as shown on a page and exported to CSV: same columns, same cells."""

    name: str
    title: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)
