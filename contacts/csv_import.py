"""Reading contact files: sniffing, header mapping and per-row validation. No database access.

Everything streams: the file is read record by record, so a 200 MB file costs no more memory
than a 2 KB one. Each record keeps the physical line it started on, for error reports.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import phonenumbers

from contacts import channels, normalize
from contacts.custom_keys import custom_targets
from contacts.headers import TARGETS, guess_target, header_country, is_weak

SAMPLE_BYTES = 256 * 1024
DELIMITERS = [",", ";", "\t", "|"]
# A cell longer than this is cut off by the csv module with an error for its row instead of
# growing without bound (an unbalanced quote can swallow the rest of a file).
MAX_CELL = 1024 * 1024
csv.field_size_limit(MAX_CELL)

IDENTITY_TARGETS = {
    "email": channels.EMAIL,
    "phone": channels.PHONE,
    "whatsapp": channels.WHATSAPP,
    "instagram": channels.INSTAGRAM,
    "x": channels.X,
    "telegram": channels.TELEGRAM,
    "linkedin": channels.LINKEDIN,
    "tiktok": channels.TIKTOK,
    "snapchat": channels.SNAPCHAT,
    "messenger": channels.MESSENGER,
}
FIELD_LIMITS = {
    "first_name": 150,
    "last_name": 150,
    "company": 200,
    "title": 200,
    "locale": 16,
}


# A record that is no row: the first cell marks it, the second says why, the rest are the
# file's lines as they were.
BAD_ROW = "\x00bad-row"


class FileProblem(Exception):
    """The file as a whole cannot be read (empty, binary, no header)."""


@dataclass
class Sniffed:
    encoding: str
    delimiter: str
    header_index: int  # records before the header (a preamble), skipped when reading
    header: list[str]
    preview: list[list[str]]
    header_line: int = 1  # the physical line of the header (a quoted preamble spans several)
    # The country national phone numbers in the file are likely from, and why (for the
    # mapping page); imports stored before these existed read them as "".
    country: str = ""
    country_reason: str = ""

    def as_dict(self) -> dict:
        return {
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "header_index": self.header_index,
            "header": self.header,
            "header_line": self.header_line,
            "country": self.country,
            "country_reason": self.country_reason,
        }


DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


def delimiter_name(delimiter: str) -> str:
    """The delimiter in words: a tab or a space cannot be seen on a page."""
    return DELIMITER_NAMES.get(delimiter, repr(delimiter))


@dataclass(slots=True)
class Record:
    line: int  # physical line (1-based) the record starts on
    cells: list[str]


@dataclass
class RowError:
    line: int
    column: str
    reason: str
    cells: list[str]


@dataclass(slots=True)
class ParsedRow:
    """One valid row, normalized: what the writer needs and nothing else."""

    line: int
    cells: list[str]  # the original cells, for a report that rejects the row after all
    fields: dict[str, str] = field(default_factory=dict)
    identities: list[tuple[str, str]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    custom: dict[str, str] = field(default_factory=dict)
    consent: bool = False
    opted_out: bool = False
    # Values left out of the imported row, each with its reason.
    warnings: list[RowError] = field(default_factory=list)


_MAGIC = {
    b"PK\x03\x04": "an Excel/ZIP file: save it as CSV first",
    b"\xd0\xcf\x11\xe0": "an old Excel (.xls) file: save it as CSV first",
    b"%PDF": "a PDF",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"\x1f\x8b": "a gzip archive",
}


def detect_encoding(sample: bytes) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    # UTF-16 without a BOM: every other byte of ASCII text is NUL.
    if len(sample) >= 4 and sample[1::2].count(0) > len(sample) * 0.4:
        return "utf-16-le"
    if len(sample) >= 4 and sample[0::2].count(0) > len(sample) * 0.4:
        return "utf-16-be"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        sample.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"  # decodes any byte; 0x81/0x8d/… only occur in real Latin-1 files


def _check_binary(sample: bytes, encoding: str) -> None:
    if not sample.strip():
        raise FileProblem("The file is empty.")
    for magic, what in _MAGIC.items():
        if sample.startswith(magic):
            raise FileProblem(f"This is {what}, not a CSV file.")
    if encoding.startswith("utf-16"):
        return
    controls = sum(1 for b in sample[:4096] if b < 9 or 13 < b < 32)
    if controls > len(sample[:4096]) * 0.05:
        raise FileProblem("This looks like a binary file, not a CSV file.")


def open_text(path: Path, encoding: str) -> io.TextIOWrapper[io.BufferedReader]:
    # surrogateescape: a stray undecodable byte becomes a marker the row validator reports,
    # instead of an exception that would stop the whole import.
    return io.TextIOWrapper(
        open(path, "rb"),  # noqa: SIM115  (the wrapper owns and closes it)
        encoding=encoding,
        errors="surrogateescape",
        newline="",
    )


def sniff(path: Path, preview_rows: int = 10) -> Sniffed:
    with open(path, "rb") as f:
        sample = f.read(SAMPLE_BYTES)
    encoding = detect_encoding(sample)
    _check_binary(sample, encoding)
    text = sample.decode(encoding, errors="replace")
    if len(sample) == SAMPLE_BYTES:
        text = text.rsplit("\n", 1)[0]  # drop the cut-off last line
    text = text.lstrip("\ufeff")
    delimiter, header_index = _delimiter_and_header(text)
    records = list(_records(io.StringIO(text), delimiter))
    if header_index >= len(records):
        raise FileProblem("No header row found.")
    header = [c.strip() for c in records[header_index].cells]
    if not any(header):
        raise FileProblem("The header row is empty.")
    rows = [r.cells for r in records[header_index + 1 :]]
    country, reason = suggest_country(header, rows)
    return Sniffed(
        encoding,
        delimiter,
        header_index,
        header,
        rows[:preview_rows],
        header_line=records[header_index].line,
        country=country,
        country_reason=reason,
    )


def suggest_country(header: list[str], rows: list[list[str]]) -> tuple[str, str]:
    """The country to read national phone numbers in, from the file's first rows (the sniff
    sample): its country column, else the +CC most of its numbers carry, else the language
    of its headers. ("", "") when nothing points anywhere."""
    targets = [guess_target(name) for name in header]

    def most_common(column_targets: set[str], read: Callable[[str], str]) -> str:
        counts: Counter[str] = Counter()
        for row in rows[:2000]:
            for i, target in enumerate(targets):
                if target in column_targets and i < len(row):
                    counts.update(filter(None, map(read, normalize.split_values(row[i]))))
        return counts.most_common(1)[0][0] if counts else ""

    code = most_common({"country"}, normalize.phone_country_of_name)
    if code:
        return code, "the file's country column"
    code = most_common({"phone", "whatsapp"}, normalize.phone_country_of_number)
    if code:
        prefix = phonenumbers.country_code_for_region(code)
        return code, f"most of its phone numbers start with +{prefix}"
    code, language = header_country(header)
    if code:
        return code, f"its column names are {language}"
    return "", ""


def _delimiter_and_header(text: str) -> tuple[str, int]:
    """The delimiter that splits most lines into the same number of fields, and the first
    record with that many fields that looks like a header (a preamble comes before it)."""
    lines = text.splitlines()[:200]
    best = (",", 0, -1.0)
    for delim in DELIMITERS:
        counts = [len(r.cells) for r in _records(io.StringIO("\n".join(lines)), delim)]
        multi = [c for c in counts if c > 1]
        if not multi:
            continue
        mode = max(set(multi), key=multi.count)
        score = multi.count(mode) * mode
        if score > best[2]:
            best = (delim, mode, score)
    delim, mode, _ = best
    records = list(_records(io.StringIO("\n".join(lines)), delim))
    if mode == 0:
        return delim, 0  # a single column file
    candidates = [i for i, r in enumerate(records) if len(r.cells) >= mode]
    for i in candidates[:20]:
        if sum(1 for c in records[i].cells if guess_target(c)) >= 1:
            return delim, i
    return delim, candidates[0] if candidates else 0


def _records(
    f: Iterable[str], delimiter: str, width: int = 0, first_line: int = 1, preamble: int = 0
) -> Iterator[Record]:
    """Records with the physical line each starts on. Given the header's ``width``, a record
    after the first ``preamble`` records (the lines above the header, and the header) that
    an unbalanced quote ran on past its own line is cut back (``_unbalanced``)."""
    lines: list[str] = []  # the physical lines of the record being read

    def physical() -> Iterator[str]:
        for text in f:
            lines.append(text)
            yield text

    # Strict, once the width is known: a quote left open ends at EOF, or at the next quote
    # that is not followed by a delimiter (`,"Quoted, Co"` read from inside the open quote),
    # as an error here instead of a row with every line in between in one cell.
    reader = csv.reader(physical(), delimiter=delimiter, strict=bool(width))
    line = first_line
    n = 0  # records so far
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if width and len(lines) > 1 and n >= preamble:
                yield from _unbalanced(lines[:], line, delimiter, width)
            elif width and lines and "larger than field limit" not in str(exc):
                # A loose quote (`"Acme" Inc`): read as the lenient reader did.
                yield Record(line, _split_line("".join(lines), delimiter))
            else:
                yield Record(line, ["\x00csv-error", str(exc)])
            n += 1
            line = first_line + reader.line_num
            lines.clear()
            continue
        if cells:  # blank lines are not records
            if width and n >= preamble and len(lines) > 1 and _ragged(cells, width):
                yield from _unbalanced(lines[:], line, delimiter, width)
            else:
                yield Record(line, cells)
            n += 1
        line = first_line + reader.line_num
        lines.clear()


def _ragged(cells: list[str], width: int) -> bool:
    # Extra trailing empty cells (a trailing delimiter) are harmless.
    return len(cells) != width and (len(cells) < width or any(cells[width:]))


def _unbalanced(lines: list[str], line: int, delimiter: str, width: int) -> Iterator[Record]:
    """A record over several lines that does not fit the header: a quote opened and never
    closed swallowed the lines after it. The quote's line (and any line after it that is no
    row of its own) is reported; reading starts again at the next line that parses as a row
    with the header's field count, so the stray quote costs its own line, not the file."""
    opened, odd = 0, False
    for i, text in enumerate(lines):
        if text.count('"') % 2:
            odd = not odd
            if odd:
                opened = i
    restart = next(
        (
            i
            for i in range(opened + 1, len(lines))
            if lines[i].strip() and not _ragged(_split_line(lines[i], delimiter), width)
        ),
        len(lines),
    )
    reason = (
        f"a quote opened on line {line + opened} is never closed: the line was skipped, "
        "the rows after it were read"
    )
    bad = [text.rstrip("\r\n") for text in lines[:restart]]
    yield Record(line + opened, [BAD_ROW, reason, *bad])
    if restart < len(lines):
        yield from _records(iter(lines[restart:]), delimiter, width, line + restart)


def _split_line(text: str, delimiter: str) -> list[str]:
    return next(csv.reader([text], delimiter=delimiter), [])


class read_records:  # noqa: N801  (used like the generator function it replaces)
    """Data records after the header, each with its starting line; knows how far it got."""

    def __init__(self, path: Path, sniffed: Sniffed) -> None:
        self.path = path
        self.sniffed = sniffed
        self._binary: io.BufferedReader | None = None
        self._size = 0

    def bytes_read(self) -> int:
        if self._binary and not self._binary.closed:
            return self._binary.tell()
        return self._size  # the whole file once it has been read to the end

    def __iter__(self) -> Iterator[Record]:
        # The encoding was guessed from the file's first 256 KB: a file that is ASCII there
        # and cp1252 further down (Excel rows appended to an export) reads as UTF-8.
        utf8 = self.sniffed.encoding in ("utf-8", "utf-8-sig")
        with open_text(self.path, self.sniffed.encoding) as f:
            self._binary = f.buffer
            if f.read(1) != "\ufeff":
                f.seek(0)
            records = _records(
                f,
                self.sniffed.delimiter,
                len(self.sniffed.header),
                preamble=self.sniffed.header_index + 1,
            )
            for i, record in enumerate(records):
                if i > self.sniffed.header_index:
                    yield _cp1252_fallback(record) if utf8 else record
            self._size = f.buffer.tell()


def _cp1252_fallback(record: Record) -> Record:
    """A record whose cells are not valid UTF-8, read as cp1252 instead."""
    cells = record.cells
    if all(c.isascii() or not _SURROGATE.search(c) for c in cells):
        return record
    # surrogateescape gives back the file's bytes; cp1252's five unassigned bytes stay marked
    # and are reported as before.
    return Record(
        record.line,
        [
            c.encode("utf-8", "surrogateescape").decode("cp1252", "surrogateescape")
            if not c.isascii() and _SURROGATE.search(c)
            else c
            for c in cells
        ],
    )


def auto_mapping(header: list[str]) -> list[str]:
    """A target per column; a target used twice keeps only the first column (e.g. two
    "Name" columns), except identities and tags, which may come from many columns. A weak
    header ("Title") gives way to a clear one for the same target ("Job Title"). A column
    no target fits becomes a custom field named after it, so nothing (notes, lead source,
    birthday) is lost unless the user chooses to ignore it; a column without a name stays
    ignored (a trailing delimiter makes one)."""
    targets = [guess_target(name) for name in header]
    clear = {t for name, t in zip(header, targets, strict=True) if t and not is_weak(name)}
    seen: set[str] = set()
    mapping = []
    for name, guessed in zip(header, targets, strict=True):
        target = guessed
        if target in clear and is_weak(name):
            target = ""
        if target in seen and target not in IDENTITY_TARGETS and target != "tags":
            target = ""
        if target:
            seen.add(target)
        elif not guessed and name.strip():
            target = "custom"
        mapping.append(target)
    return custom_targets(mapping, header)


def valid_target(target: str) -> bool:
    return target == "" or target in TARGETS or _custom_key(target) is not None


def _custom_key(target: str) -> str | None:
    if target.startswith("custom:"):
        key = target[7:].strip()
        return key[:100] if key else None
    return None


# What a bad value in a column costs (RowParser._kind).
IDENTITY, REQUIRED, OPTIONAL = "identity", "required", "optional"
GOOGLE_SYSTEM_GROUPS = {"myContacts", "starred", "Starred in Android", "My Contacts"}
_SURROGATE = re.compile(r"[\udc80-\udcff]")


class RowParser:
    """Validates records against one mapping. Reuse it for every row of an import.

    Each mapped column gets its handler once, here, so the per-value work is one call: this
    runs a million times per import."""

    def __init__(self, header: list[str], mapping: list[str], default_region: str = "") -> None:
        self.header = header
        self.mapping = mapping
        self.default_region = default_region
        self.width = len(header)
        columns = [
            (i, target, header[i] or f"column {i + 1}")
            for i, target in enumerate(mapping)
            if target
        ]
        # Country first: a row's own country is the region for its national phone numbers.
        self.columns = sorted(columns, key=lambda c: c[1] != "country")
        self._handlers = [
            (i, column, self._kind(target), self._handler(target, column))
            for i, target, column in self.columns
        ]

    @staticmethod
    def _kind(target: str) -> str:
        """What a bad value costs. An identity: only itself, if another identity is valid.
        The opt-out: the row, since a row read as reachable when it says otherwise must never
        be imported. Anything else: only itself (a warning)."""
        if target in IDENTITY_TARGETS:
            return IDENTITY
        return REQUIRED if target == "opted_out" else OPTIONAL

    def parse(self, record: Record) -> ParsedRow | list[RowError]:
        """The row, or why it was rejected; an empty list for an empty row (Excel's ";;;;"),
        which is neither."""
        cells = record.cells
        line = record.line
        if cells[0] == "\x00csv-error":  # records are never empty (blank lines are skipped)
            return [RowError(line, "", f"unreadable CSV: {cells[1]}", cells[1:])]
        if cells[0] == BAD_ROW:
            return [RowError(line, "", cells[1], cells[2:])]
        if not any(c.strip() for c in cells):
            return []
        # Extra trailing empty cells (a trailing delimiter) are harmless; anything else ragged
        # is reported, never guessed at.
        if _ragged(cells, self.width):
            reason = f"row has {len(cells)} fields but the header has {self.width}"
            return [RowError(line, "", reason, cells)]
        row = ParsedRow(line, cells)
        errors: list[RowError] | None = None
        bad_identities: list[RowError] = []
        for i, column, kind, handler in self._handlers:
            value = cells[i].strip()
            if not value:
                continue
            # Both marks are rare: test cheaply first (a surrogate is never ASCII).
            if "\x00" in value or (not value.isascii() and _SURROGATE.search(value)):
                what = "a NUL byte" if "\x00" in value else "bytes that are not valid text"
                errors = errors or []
                errors.append(RowError(line, column, f"contains {what}", cells))
                continue
            try:
                handler(row, value)
            except normalize.Invalid as exc:
                problem = RowError(line, column, str(exc), cells)
                if kind == REQUIRED:
                    errors = errors or []
                    errors.append(problem)
                elif kind == IDENTITY:
                    bad_identities.append(problem)
                else:
                    row.warnings.append(problem)
        if errors:
            return errors
        if not row.identities:
            return bad_identities or [
                RowError(
                    line,
                    "",
                    "no email, phone or social handle: a contact needs one way to reach them",
                    cells,
                )
            ]
        row.warnings += bad_identities
        return row

    def _handler(self, target: str, column: str):  # noqa: C901  (one branch per kind of target)
        channel = IDENTITY_TARGETS.get(target)
        if channel == channels.EMAIL:

            def apply(row: ParsedRow, value: str) -> None:
                # "Jane Doe <jane@example.com>" is one address, not three values.
                values = (
                    normalize.mailboxes(value)
                    if "<" in value
                    else normalize.split_values(value, on_space=True)
                )
                _each(values, lambda v: row.identities.append((channel, normalize.email(v))))

        elif channel in (channels.PHONE, channels.WHATSAPP):
            default_region = self.default_region

            def apply(row: ParsedRow, value: str) -> None:
                region = row.fields.get("country") or default_region

                def one(v: str) -> None:
                    e164, doubt = normalize.phone_or_doubt(v, region)
                    row.identities.append((channel, e164))
                    if doubt:
                        row.warnings.append(RowError(row.line, column, doubt, row.cells))

                _each(normalize.split_values(value), one)

        elif channel:

            def apply(row: ParsedRow, value: str) -> None:
                _each(
                    normalize.split_values(value, on_space=True),
                    lambda v: row.identities.append((channel, normalize.handle(channel, v))),
                )

        elif target in FIELD_LIMITS:
            limit = FIELD_LIMITS[target]

            def apply(row: ParsedRow, value: str) -> None:
                if len(value) > limit:
                    raise normalize.Invalid(
                        f"value is {len(value)} characters long; at most {limit} fit"
                    )
                row.fields[target] = value

        elif target == "full_name":

            def apply(row: ParsedRow, value: str) -> None:
                first, _, last = value.rpartition(" ") if " " in value else (value, "", "")
                row.fields.setdefault("first_name", first[:150])
                if last:
                    row.fields.setdefault("last_name", last[:150])

        elif target == "time_zone":

            def apply(row: ParsedRow, value: str) -> None:
                row.fields["time_zone"] = normalize.time_zone(value)

        elif target == "country":

            def apply(row: ParsedRow, value: str) -> None:
                row.fields["country"] = normalize.country(value)

        elif target == "tags":

            def one_tag(row: ParsedRow, tag: str) -> None:
                tag = tag.removeprefix("* ")  # Google marks its system groups with "* "
                tag = tag.strip('"').strip()  # Mailchimp quotes each: "Customer","VIP"
                if not tag or tag in GOOGLE_SYSTEM_GROUPS:
                    return
                if len(tag) > 100:
                    raise normalize.Invalid(f"tag {tag[:40]!r}… is longer than 100 characters")
                if not row.tags or tag.lower() not in {t.lower() for t in row.tags}:
                    row.tags.append(tag)

            def apply(row: ParsedRow, value: str) -> None:
                _each(normalize.split_values(value), lambda tag: one_tag(row, tag))

        elif target == "consent":

            def apply(row: ParsedRow, value: str) -> None:
                row.consent = row.consent or normalize.boolean(value)

        elif target == "opted_out":

            def apply(row: ParsedRow, value: str) -> None:
                row.opted_out = row.opted_out or normalize.opted_out(value)

        else:
            key = _custom_key(target)

            def apply(row: ParsedRow, value: str) -> None:
                if key is None:
                    raise normalize.Invalid(f"unknown mapping {target!r}")
                if len(value) > 10_000:
                    raise normalize.Invalid(f"value is {len(value)} characters long; at most 10000")
                row.custom[key] = value

        return apply


def _each(values: list[str], take: Callable[[str], None]) -> None:
    """Each value of a multi-value cell (``a ::: b``) on its own: a bad one does not cost
    the good ones after it. The bad ones are reported together, once the rest are taken."""
    if len(values) == 1:  # the common case, without the bookkeeping
        take(values[0])
        return
    problems = []
    for value in values:
        try:
            take(value)
        except normalize.Invalid as exc:
            problems.append(str(exc))
    if problems:
        raise normalize.Invalid("; ".join(problems))
