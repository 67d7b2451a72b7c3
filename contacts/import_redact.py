"""Take one person's rows out of the uploaded import files (GDPR erasure).

An uploaded file stays on disk under VAR_DIR/imports after its import. What happens to a
file holding the erased person depends on whether anything still reads it:

- a finished import (done, rolled back) never reads its file again: its counts and error
  rows live on the ContactImport and ContactImportError rows. The file is deleted.
- any other import may still read it: the mapping page previews it (uploaded), a worker
  reads it (queued, running), a resume reads it from the checkpoint (cancelled, failed).
  The person's records are blanked in place: each keeps its place as an empty record
  (``;;;``, which the import neither imports nor counts as an error, contacts/csv_import.py
  RowParser.parse) and its physical lines stay as blank lines, so the records_done
  checkpoint and the line numbers of every other row are unchanged.

A worker already reading the file keeps the old copy open (the new one replaces it by
rename); should it import the person again, the erased-address hash opts them out
(contacts.services.erased_suppressions_apply).
"""

import codecs
import csv
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

from contacts.csv_import import open_text
from contacts.models import ContactImport

FINISHED = {ContactImport.Status.DONE, ContactImport.Status.ROLLED_BACK}


def import_files_redact(*, row_matches: Callable[[list[str]], bool]) -> list[ContactImport]:
    """Delete or blank every import file holding a record for which row_matches is true.
    Returns the imports whose file was changed."""
    changed = []
    for imp in ContactImport.objects.exclude(path="").order_by("id"):
        path = Path(imp.path)
        if not path.is_file() or not _holds(imp, path, row_matches):
            continue
        if imp.status in FINISHED:
            path.unlink(missing_ok=True)
        else:
            _blank_records(imp, path, row_matches)
        changed.append(imp)
    return changed


def _encoding(imp: ContactImport) -> str:
    return (imp.sniffed or {}).get("encoding") or "utf-8"


def _delimiter(imp: ContactImport) -> str:
    return (imp.sniffed or {}).get("delimiter") or ","


def _open(imp: ContactImport, path: Path) -> tuple[TextIO, str]:
    encoding = _encoding(imp)
    try:
        codecs.lookup(encoding)
    except LookupError:  # not one Python knows: read bytes as they are
        encoding = "latin-1"
    return open_text(path, encoding), encoding


def _records(f: TextIO, delimiter: str) -> Iterator[tuple[list[str], list[str] | None]]:
    """(the physical lines, the cells) of each record as the import reads it, streamed; the
    cells are None for lines the csv module cannot read (kept as they are)."""
    lines: list[str] = []

    def feed() -> Iterator[str]:
        for line in f:
            lines.append(line)
            yield line

    reader = csv.reader(feed(), delimiter=delimiter)
    while True:
        try:
            cells: list[str] | None = next(reader)
        except StopIteration:
            break
        except csv.Error:
            cells = None
        yield list(lines), cells
        lines.clear()
    if lines:
        yield list(lines), None


def _holds(imp: ContactImport, path: Path, row_matches: Callable[[list[str]], bool]) -> bool:
    f, _ = _open(imp, path)
    with f:
        return any(cells and row_matches(cells) for _, cells in _records(f, _delimiter(imp)))


def _blank_records(imp: ContactImport, path: Path, row_matches) -> None:
    tmp = path.with_suffix(".erasing")
    source, encoding = _open(imp, path)
    delimiter = _delimiter(imp)
    with source, open(tmp, "w", encoding=encoding, errors="surrogateescape", newline="") as out:
        for lines, cells in _records(source, delimiter):
            if not cells or not row_matches(cells):
                out.writelines(lines)
                continue
            newline = "\r\n" if lines[-1].endswith("\r\n") else "\n"
            # Only delimiters: an empty record. One column: "" (an empty line is no record).
            empty = delimiter * (len(cells) - 1) if len(cells) > 1 else '""'
            # Its other lines stay as blank lines (no records), so line numbers hold.
            out.writelines([empty + newline] + [newline] * (len(lines) - 1))
    os.replace(tmp, path)
