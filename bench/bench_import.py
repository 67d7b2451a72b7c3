"""CSV import: ours (full validation, dedupe across identities, batched writes) versus

- the same rows written by hand in SQL (`by_hand`: the file staged with COPY, then per batch
  of 10,000 lines, one transaction each, INSERT … SELECT … ON CONFLICT into contacts,
  identities, tag links and error rows), on PostgreSQL and on SQLite; the run checks that
  both left the same rows;
- django-import-export, set up for the same validation and dedupe, on a 10,000-row slice of
  the file, against ours on the same slice;
- and the peak memory of ours against a fixed 300 MB budget.

Everything runs in a throw-away database (bench/db.py). A baseline that cannot run (the
library missing) fails the benchmark. BENCH_IMPORT_ROWS (default 1,000,000) sets the size of
the generated file.
"""

from __future__ import annotations

import csv
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench.common import BaselineMissing, Row, Target, size
from bench.db import bench_database

ROWS = size("BENCH_IMPORT_ROWS", 1_000_000, 2_000)
IE_ROWS = min(size("BENCH_IMPORT_IE_ROWS", 10_000, 50), ROWS)
HEADER = ["First Name", "Last Name", "Email", "Phone", "Company", "Job Title", "Tags"]


def generate(path: Path, rows: int) -> None:
    """~1% invalid emails, ~2% duplicates (same email, other case), a phone on a third."""
    rnd = random.Random(42)
    firsts = ["Anna", "Ben", "Chloé", "Dmitri", "Eva", "Farid", "Grace", "Hiro", "Ines", "Jonas"]
    lasts = ["Müller", "Smith", "García", "Nowak", "Rossi", "Tanaka", "Okafor", "Berg"]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for i in range(rows):
            r = rnd.random()
            if r < 0.01:
                email = f"broken{i}.example.com"
            elif r < 0.03 and i > 10:
                email = f"Lead{rnd.randrange(i)}@Example.com"
            else:
                email = f"lead{i}@example.com"
            phone = f"+49 151 {10000000 + i}" if i % 3 == 0 else ""
            w.writerow(
                [
                    rnd.choice(firsts),
                    rnd.choice(lasts),
                    email,
                    phone,
                    f"Company {i % 5000}",
                    "Buyer",
                    "bench" if i % 10 else "bench; vip",
                ]
            )


def _reset_contacts() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(
                "TRUNCATE contacts_contact, contacts_identity, contacts_contact_tags,"
                " contacts_consentrecord, contacts_contactimport, contacts_contactimporterror"
                " CASCADE"
            )
        else:
            for t in ["contacts_contact_tags", "contacts_identity", "contacts_contact"]:
                cur.execute(f"DELETE FROM {t}")


def ours(path: Path) -> tuple[float, int]:
    """Seconds for a full import of the file, and the rows created."""
    from contacts.imports import contact_import_create, contact_import_run, contact_import_start

    _reset_contacts()
    with open(path, "rb") as f:
        imp = contact_import_create(
            name=path.name, chunks=iter(lambda: f.read(1 << 20), b""), default_country="DE"
        )
    contact_import_start(contact_import=imp, mapping=imp.mapping)
    started = time.perf_counter()
    contact_import_run(contact_import_id=imp.pk)
    elapsed = time.perf_counter() - started
    imp.refresh_from_db()
    assert imp.status == "done", imp.message
    return elapsed, imp.created


BY_HAND_BATCH = 10_000  # contacts.imports.BATCH_SIZE: the same commit pattern as ours
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")


def _staged(path: Path) -> Iterator[tuple]:
    """The file's rows as the SQL below reads them: normalized identities, the key that makes
    rows one contact (the email, else the phone: the benchmark's phones are unique), the
    original cells for an error row, and the row's tags last."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        for line, cells in enumerate(reader, start=2):
            first, last, email, phone, company, title, tags = cells
            email = email.strip().lower()
            valid = bool(_EMAIL.match(email))
            phone = phone.replace(" ", "")
            key = ("email", email) if valid else ("phone", phone) if phone else ("", "")
            yield (
                line, first, last, email if valid else "", phone, company, title,
                key[0], key[1], json.dumps(cells),
                [t.strip().lower() for t in tags.split(";") if t.strip()],
            )  # fmt: skip


def _load_staging(cur, path: Path) -> None:
    from django.db import connection

    cur.execute("DROP TABLE IF EXISTS bench_rows")
    cur.execute("DROP TABLE IF EXISTS bench_row_tags")
    cur.execute("DROP TABLE IF EXISTS bench_keys")
    json_type = "jsonb" if connection.vendor == "postgresql" else "text"
    cur.execute(
        "CREATE TEMP TABLE bench_rows (line integer PRIMARY KEY, first_name text,"
        " last_name text, email text, phone text, company text, title text, key_channel text,"
        f" key_value text, cells {json_type})"
    )
    cur.execute("CREATE TEMP TABLE bench_row_tags (line integer, tag text)")
    cur.execute(
        "CREATE TEMP TABLE bench_keys (key_channel text, key_value text, line integer,"
        " contact_id bigint, new boolean, PRIMARY KEY (key_channel, key_value))"
    )
    rows, tags = [], []
    for *row, row_tags in _staged(path):
        rows.append(row)
        tags += [(row[0], t) for t in row_tags]
    if connection.vendor == "postgresql":
        with cur.cursor.copy("COPY bench_rows FROM STDIN") as cp:
            for row in rows:
                cp.write_row(row)
        with cur.cursor.copy("COPY bench_row_tags FROM STDIN") as cp:
            for tag in tags:
                cp.write_row(tag)
    else:
        cur.executemany(f"INSERT INTO bench_rows VALUES ({', '.join(['%s'] * 10)})", rows)
        cur.executemany("INSERT INTO bench_row_tags VALUES (%s, %s)", tags)
    cur.execute("CREATE INDEX bench_row_tags_line ON bench_row_tags (line)")
    cur.execute("ANALYZE bench_rows")
    cur.execute("ANALYZE bench_row_tags")


def _new_ids(cur, n: int) -> int:
    """Reserve n contact ids; returns the one before the first."""
    from django.db import connection

    if connection.vendor == "postgresql":
        cur.execute("SELECT pg_get_serial_sequence('contacts_contact', 'id')")
        (sequence,) = cur.fetchone()
        cur.execute("SELECT nextval(%s::regclass)", [sequence])
        (first,) = cur.fetchone()
        cur.execute("SELECT setval(%s::regclass, %s)", [sequence, first + n - 1])
        return first - 1
    cur.execute("SELECT COALESCE(MAX(id), 0) FROM contacts_contact")
    return cur.fetchone()[0]


# One batch of lines [%(a)s, %(b)s), in order. The import id and the time are parameters.
_BATCH_SQL = [
    # A row whose email is not one: an error (nothing left to reach them by) or, with a
    # phone left, a warning. (Every row of the generated file has an email cell.)
    """INSERT INTO contacts_contactimporterror (contact_import_id, line, "column", reason, row,
        warning)
    SELECT %(imp)s, line, 'Email', 'not an email address', cells, key_channel <> ''
    FROM bench_rows WHERE line >= %(a)s AND line < %(b)s AND email = ''""",
    "DELETE FROM bench_keys",
    """INSERT INTO bench_keys (key_channel, key_value, line, new)
    SELECT key_channel, key_value, min(line), true FROM bench_rows
    WHERE line >= %(a)s AND line < %(b)s AND key_channel <> ''
    GROUP BY key_channel, key_value""",
    # Contacts that exist already (an earlier batch of this file): matched by identity.
    """UPDATE bench_keys SET contact_id = i.contact_id, new = false FROM contacts_identity i
    WHERE i.channel = bench_keys.key_channel AND i.value = bench_keys.key_value""",
]
_BATCH_SQL_AFTER_IDS = [
    """INSERT INTO contacts_contact (id, first_name, last_name, company, title, time_zone,
        country, locale, custom_fields, owner_id, opted_out_at, created_at, updated_at,
        created_by_import, last_import)
    SELECT k.contact_id, r.first_name, r.last_name, r.company, r.title, '', '', '', '{}',
        NULL, NULL, %(now)s, %(now)s, %(imp)s, %(imp)s
    FROM bench_keys k JOIN bench_rows r ON r.line = k.line WHERE k.new
    ORDER BY k.contact_id""",
    """INSERT INTO contacts_identity (contact_id, channel, value, platform_user_id,
        consent_at, consent_source, opted_out_at, opt_out_source, created_at,
        created_by_import)
    SELECT k.contact_id, x.channel, x.value, '', NULL, '', NULL, '', %(now)s, %(imp)s
    FROM (SELECT line, key_channel, key_value, 'email' AS channel, email AS value
          FROM bench_rows WHERE line >= %(a)s AND line < %(b)s AND email <> ''
          UNION ALL
          SELECT line, key_channel, key_value, 'phone', phone
          FROM bench_rows WHERE line >= %(a)s AND line < %(b)s AND phone <> '') x
    JOIN bench_keys k ON k.key_channel = x.key_channel AND k.key_value = x.key_value
    WHERE true ORDER BY x.channel, x.value
    ON CONFLICT DO NOTHING""",
    """UPDATE contacts_contact SET last_import = %(imp)s, updated_at = %(now)s
    WHERE id IN (SELECT contact_id FROM bench_keys WHERE NOT new)""",
    """INSERT INTO contacts_contact_tags (contact_id, tag_id)
    SELECT DISTINCT k.contact_id, t.id
    FROM bench_row_tags rt
    JOIN bench_rows r ON r.line = rt.line
    JOIN bench_keys k ON k.key_channel = r.key_channel AND k.key_value = r.key_value
    JOIN contacts_tag t ON lower(t.name) = rt.tag
    WHERE rt.line >= %(a)s AND rt.line < %(b)s
    ON CONFLICT DO NOTHING""",
    """UPDATE contacts_contactimport SET records_done = records_done + %(n)s,
        created = created + %(created)s WHERE id = %(imp)s""",
]


def by_hand(path: Path) -> float:
    """The same contacts, identities, tag links and error rows as `ours`, written by hand in
    SQL: the file staged (COPY on PostgreSQL, executemany on SQLite), then per batch of
    10,000 lines, one transaction each, set-based INSERT … SELECT … ON CONFLICT statements.
    Seconds, from reading the file to the last commit."""
    from django.db import connection, transaction
    from django.utils import timezone

    from contacts.models import ContactImport

    _reset_contacts()
    imp = ContactImport.objects.create(original_name=path.name, path=str(path), status="running")
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    started = time.perf_counter()
    with connection.cursor() as cur:
        with transaction.atomic():
            _load_staging(cur, path)
            cur.execute(
                "INSERT INTO contacts_tag (name, created_at)"
                " SELECT DISTINCT tag, %s FROM bench_row_tags WHERE true ON CONFLICT DO NOTHING",
                [now],
            )
            cur.execute("SELECT max(line) FROM bench_rows")
            last = cur.fetchone()[0] or 1
        for a in range(2, last + 1, BY_HAND_BATCH):
            params = {"a": a, "b": a + BY_HAND_BATCH, "imp": imp.pk, "now": now}
            with transaction.atomic():
                for sql in _BATCH_SQL:
                    cur.execute(sql, params)
                cur.execute("SELECT count(*) FROM bench_keys WHERE new")
                created = cur.fetchone()[0]
                if created:
                    base = _new_ids(cur, created)
                    cur.execute(
                        "UPDATE bench_keys SET contact_id = %s + r.rn FROM (SELECT key_channel,"
                        " key_value, row_number() OVER (ORDER BY line) AS rn FROM bench_keys"
                        " WHERE new) r WHERE bench_keys.key_channel = r.key_channel"
                        " AND bench_keys.key_value = r.key_value",
                        [base],
                    )
                n = min(BY_HAND_BATCH, last + 1 - a)
                for sql in _BATCH_SQL_AFTER_IDS:
                    cur.execute(sql, {**params, "n": n, "created": created})
    elapsed = time.perf_counter() - started
    with connection.cursor() as cur:
        for table in ("bench_rows", "bench_row_tags", "bench_keys"):
            cur.execute(f"DROP TABLE {table}")
    return elapsed


ROWS_WRITTEN = ["contacts", "emails", "phones", "tag links", "errors", "warnings", "consents"]


def rows_written() -> dict[str, int]:
    """What an import left, to check the baseline did the same work as ours."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            """SELECT (SELECT count(*) FROM contacts_contact),
                (SELECT count(*) FROM contacts_identity WHERE channel = 'email'),
                (SELECT count(*) FROM contacts_identity WHERE channel = 'phone'),
                (SELECT count(*) FROM contacts_contact_tags),
                (SELECT count(*) FROM contacts_contactimporterror WHERE NOT warning),
                (SELECT count(*) FROM contacts_contactimporterror WHERE warning),
                (SELECT count(*) FROM contacts_consentrecord)"""
        )
        return dict(zip(ROWS_WRITTEN, cur.fetchone(), strict=True))


def import_export(path: Path, rows: int) -> float:
    """django-import-export as a Django user would set it up for this file, with the same
    validation and dedupe as ours (docs/performance.md#csv-import):

    - rows are matched by email (``import_id_fields``), so a re-run or a duplicate updates
      the contact instead of creating a second one; our Contact keeps its email on an
      Identity, so the lookup goes through it;
    - the email is validated by Django's ``EmailValidator`` and the phone with
      ``phonenumbers`` (what django-phonenumber-field does), each in its widget, and
      ``clean_model_instances`` runs ``full_clean()``; an invalid row is reported, not saved;
    - tags through the library's ``ManyToManyWidget``; identities in ``after_save_instance``;
    - everything else at its defaults (one transaction, diff per row).
    """
    import phonenumbers
    import tablib
    from django.core.validators import validate_email
    from import_export import fields, resources, widgets

    from contacts.models import Contact, Identity, Tag

    class EmailWidget(widgets.CharWidget):
        def clean(self, value, row=None, **kwargs):
            value = (value or "").strip().lower()
            validate_email(value)
            return value

    class PhoneWidget(widgets.CharWidget):
        def clean(self, value, row=None, **kwargs):
            value = (value or "").strip()
            if not value:
                return ""
            try:
                number = phonenumbers.parse(value, "DE")
            except phonenumbers.NumberParseException as exc:
                raise ValueError("not a phone number") from exc
            if not phonenumbers.is_valid_number(number):
                raise ValueError("not a valid phone number")
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    class ContactResource(resources.ModelResource):
        email = fields.Field(attribute="email", column_name="Email", widget=EmailWidget())
        phone = fields.Field(attribute="phone", column_name="Phone", widget=PhoneWidget())
        first_name = fields.Field(attribute="first_name", column_name="First Name")
        last_name = fields.Field(attribute="last_name", column_name="Last Name")
        company = fields.Field(attribute="company", column_name="Company")
        title = fields.Field(attribute="title", column_name="Job Title")
        tags = fields.Field(
            attribute="tags",
            column_name="Tags",
            widget=widgets.ManyToManyWidget(Tag, field="name", separator=";"),
        )

        class Meta:
            model = Contact
            fields = ("email", "phone", "first_name", "last_name", "company", "title", "tags")
            import_id_fields = ("email",)
            clean_model_instances = True

        def get_instance(self, instance_loader, row):
            email = EmailWidget().clean(row.get("Email"))
            return Contact.objects.filter(
                identities__channel="email", identities__value=email
            ).first()

        def after_save_instance(self, instance, row, **kwargs):
            if kwargs.get("dry_run"):
                return
            for channel, value in (("email", instance.email), ("phone", instance.phone)):
                if value:
                    Identity.objects.get_or_create(
                        channel=channel, value=value, defaults={"contact": instance}
                    )

    _reset_contacts()
    for name in ("bench", "vip"):
        Tag.objects.get_or_create(name=name)
    with open(path, encoding="utf-8") as f:
        head = "".join(f.readline() for _ in range(rows + 1))
    started = time.perf_counter()
    dataset = tablib.Dataset().load(head, format="csv")
    result = ContactResource().import_data(dataset, dry_run=False)
    elapsed = time.perf_counter() - started
    invalid = len(result.invalid_rows)
    # The sanity check that the baseline did the same work: about 1% of rows rejected.
    assert not result.has_errors(), [r.errors for r in result.rows if r.errors][:1]
    assert 0 < invalid < rows * 0.05, invalid
    return elapsed


def _child(code: str, path: Path, env: dict[str, str]) -> list[str]:
    """Run `code` in a fresh process (as a worker runs an import); its last line, split."""
    setup = (
        "import os, sys, django, resource; os.environ.setdefault('DJANGO_SETTINGS_MODULE',"
        " 'config.settings'); django.setup(); from pathlib import Path;"
        " from bench.bench_import import ours, by_hand; path = Path(sys.argv[1]);"
    )
    out = subprocess.run(
        [sys.executable, "-c", setup + code, str(path)],
        env=env,
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise RuntimeError(f"import benchmark child failed:\n{out.stderr[-3000:]}")
    return out.stdout.split()


def ours_in_child(path: Path, env: dict[str, str]) -> tuple[float, int, float]:
    """Ours in a fresh process: seconds, contacts created, peak RSS (MB). One run gives both
    figures, so the million rows are imported once, not twice."""
    code = "s, n = ours(path); print(s, n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    seconds, created, max_rss_kb = _child(code, path, env)[-3:]
    return float(seconds), int(created), int(max_rss_kb) / 1024


def by_hand_in_child(path: Path, env: dict[str, str]) -> float:
    return float(_child("print(by_hand(path))", path, env)[-1])


def same_rows(label: str, ours_rows: dict[str, int], baseline_rows: dict[str, int]) -> None:
    print(f"    rows written, ours: {ours_rows}", flush=True)
    print(f"    rows written, by hand: {baseline_rows}", flush=True)
    if ours_rows != baseline_rows:
        raise BaselineMissing(f"{label}: the baseline did not write what ours wrote")


def import_export_installed() -> None:
    try:
        import import_export  # noqa: F401
    except ImportError as exc:
        raise BaselineMissing(
            "django-import-export is not installed, so the import benchmark has no baseline"
            " to compare with: install the bench extra (`pip install -c constraints.txt"
            " -e '.[bench]'`, which `make bench` does)"
        ) from exc


def sqlite_rows(path: Path) -> Iterator[Row]:
    """Ours and the same SQL by hand, each on a fresh SQLite database (the embedded default)."""
    # The rows written, counted in the same child: one Django start-up less per run.
    counts = "; from bench.bench_import import rows_written; print(*rows_written().values())"
    with tempfile.TemporaryDirectory() as tmp:
        figures: list[tuple[float, dict[str, int]]] = []
        # Migrated once, copied for each run: the same empty database, half the wait.
        migrated = Path(tmp) / "migrated.sqlite3"
        env = dict(os.environ, DATABASE_URL=f"sqlite:///{migrated}", VAR_DIR=tmp)
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], env=env, check=True)
        for run in ("print(ours(path)[0])", "print(by_hand(path))"):
            copy = Path(tmp) / f"{len(figures)}.sqlite3"
            shutil.copyfile(migrated, copy)
            env = dict(os.environ, DATABASE_URL=f"sqlite:///{copy}", VAR_DIR=tmp)
            out = _child(run + counts, path, env)
            seconds = float(out[-len(ROWS_WRITTEN) - 1])
            values = out[-len(ROWS_WRITTEN) :]
            written = dict(zip(ROWS_WRITTEN, map(int, values), strict=True))
            figures.append((seconds, written))
    (ours_s, ours_rows), (raw_s, raw_rows) = figures
    n = ROWS
    same_rows("SQLite import", ours_rows, raw_rows)
    # Issue #21's target for the embedded default: 0.3x of the same SQL by hand.
    yield Row(f"SQLite import {n:,} rows (vs by hand in SQL)", n / ours_s, n / raw_s, "r/s", 0.3)


def run() -> Iterator[Row | Target]:
    from django.db import connection

    import_export_installed()
    with tempfile.TemporaryDirectory() as tmp, bench_database() as url:
        # As a worker runs it in production: DEBUG off, so no query log in the peak RSS.
        env = dict(os.environ, DATABASE_URL=url, DEBUG="false", SECRET_KEY="bench-import")
        path = Path(tmp) / "leads.csv"
        generate(path, ROWS)
        n = ROWS
        ours_s, created, peak = ours_in_child(path, env)
        ours_rows = rows_written()
        print(f"    ours: {n:,} rows in {ours_s:.1f} s, {created:,} contacts", flush=True)
        connection.close()  # the child truncates: no session of ours may hold a lock
        raw_s = by_hand_in_child(path, env)
        same_rows("import", ours_rows, rows_written())
        yield Row(f"import {n:,} rows (vs by hand in SQL)", n / ours_s, n / raw_s, "r/s", 0.5)

        # django-import-export on a slice (it would take hours on the whole file), and ours
        # on the same slice.
        ie_path = Path(tmp) / "slice.csv"
        with open(path, encoding="utf-8") as f, open(ie_path, "w", encoding="utf-8") as out:
            out.writelines(f.readline() for _ in range(IE_ROWS + 1))
        ours_ie_s = ours_in_child(ie_path, env)[0]
        connection.close()
        ie_s = import_export(ie_path, IE_ROWS)
        yield Row(
            f"import {IE_ROWS:,} rows (vs django-import-export)",
            IE_ROWS / ours_ie_s,
            IE_ROWS / ie_s,
            "r/s",
            30.0,
        )
        # A fixed budget, nothing measured to compare with.
        yield Target(f"import {n:,} rows: peak RSS", peak, 300.0, "MB", "lower")
        yield from sqlite_rows(path)


if __name__ == "__main__":
    for row in run():
        print(row.render())
