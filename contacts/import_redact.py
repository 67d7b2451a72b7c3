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

import csv
import os
from collections.abc import Callable
from pathlib import Path

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


def _records(imp: ContactImport, lines: list[str]):
    """(first line index, end line index, cells) of each record, as the import reads them."""
    reader = csv.reader(iter(lines), delimiter=_delimiter(imp))
    while True:
        start = reader.line_num
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error:
            continue  # an unreadable record: the import keeps only its error message
        yield start, reader.line_num, cells


def _read_lines(imp: ContactImport, path: Path) -> list[str]:
    with open_text(path, _encoding(imp)) as f:
        return f.read().splitlines(keepends=True)


def _holds(imp: ContactImport, path: Path, row_matches: Callable[[list[str]], bool]) -> bool:
    try:
        lines = _read_lines(imp, path)
    except (LookupError, OSError):  # an unknown encoding: the file was never imported
        lines = path.read_bytes().decode("latin-1").splitlines(keepends=True)
    return any(row_matches(cells) for _, _, cells in _records(imp, lines))


def _blank_records(imp: ContactImport, path: Path, row_matches) -> None:
    try:
        lines = _read_lines(imp, path)
        encoding = _encoding(imp)
    except (LookupError, OSError):
        lines, encoding = path.read_bytes().decode("latin-1").splitlines(keepends=True), "latin-1"
    out = list(lines)
    for start, end, cells in _records(imp, lines):
        if row_matches(cells):
            newline = "\r\n" if lines[end - 1].endswith("\r\n") else "\n"
            # Only delimiters: an empty record. One column: "" (an empty line is no record).
            empty = _delimiter(imp) * (len(cells) - 1) if len(cells) > 1 else '""'
            out[start] = empty + newline
            for i in range(start + 1, end):
                out[i] = newline  # a blank line is no record (contacts/csv_import.py)
    tmp = path.with_suffix(".erasing")
    with open(tmp, "w", encoding=encoding, errors="surrogateescape", newline="") as f:
        f.writelines(out)
    os.replace(tmp, path)
