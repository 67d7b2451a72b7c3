"""The one CSV writer of every download. A spreadsheet runs a cell that starts with =, +, -,
@, a tab or a carriage return as a formula (CSV injection), so each such cell is prefixed
with a quote and shows as text."""

import csv
from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralize(value: str) -> str:
    """Prefix a would-be formula with a quote so spreadsheets show it as text."""
    return "'" + value if value.startswith(FORMULA_START) else value


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """The rows as CSV text, one line at a time, every cell guarded."""
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow([neutralize("" if cell is None else str(cell)) for cell in row])


def csv_download(rows: Iterable[Iterable[object]], filename: str) -> StreamingHttpResponse:
    """A streamed CSV attachment of the rows (the first row is the header)."""
    response = StreamingHttpResponse(csv_lines(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
