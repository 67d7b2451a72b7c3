"""What every dashboard panel shares: rates and tables (a page's table is also its CSV).

A cell holds a value, not its text: a date or time is shown on the page in the user's time
zone and words (analytics/templatetags/dashboard_cells.py) and written to the CSV as ISO
8601, which spreadsheets and scripts read; a Link is a name on the page and the name alone
in the CSV."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date


def rate(part: int | None, whole: int | None) -> float | None:
    if part is None or not whole:
        return None
    return part / whole


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


@dataclass(frozen=True)
class Link:
    """A cell naming something that has its own page, e.g. a contact or a template."""

    text: str
    href: str

    def __str__(self) -> str:
        return self.text


def csv_cell(value: object) -> object:
    if isinstance(value, date):  # datetimes too
        return value.isoformat()
    if isinstance(value, Link):
        return value.text
    return value


def csv_rows(rows: Iterable[list]) -> Iterable[list]:
    return ([csv_cell(v) for v in row] for row in rows)


@dataclass
class Table:
    """A table as shown on a page and exported to CSV: same columns, same cells."""

    name: str
    title: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)
    empty: str = "Nothing yet."  # why the table has no rows, in words
