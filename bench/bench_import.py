"""CSV import: ours (full validation, dedupe across identities, batched writes) versus
django-import-export (10k slice, extrapolated per row) and versus a raw COPY + INSERT ... ON
CONFLICT of the same file into one flat table; peak memory; SQLite versus raw executemany.

BENCH_IMPORT_ROWS (default 1,000,000) sets the size of the generated file.
"""

from __future__ import annotations

import csv
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench.common import Row

ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "1000000"))
IE_ROWS = min(10_000, ROWS)
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


def pg_copy_raw(path: Path) -> float:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_flat, bench_staging")
        cur.execute(
            "CREATE UNLOGGED TABLE bench_staging (first_name text, last_name text, email text,"
            " phone text, company text, title text, tags text)"
        )
        cur.execute(
            "CREATE TABLE bench_flat (id bigserial primary key, first_name text, last_name text,"
            " email text unique, phone text, company text, title text, tags text)"
        )
        started = time.perf_counter()
        copy_sql = "COPY bench_staging FROM STDIN (FORMAT csv, HEADER true)"
        with cur.cursor.copy(copy_sql) as cp, open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                cp.write(chunk)
        cur.execute(
            "INSERT INTO bench_flat (first_name, last_name, email, phone, company, title, tags)"
            " SELECT DISTINCT ON (lower(email)) first_name, last_name, lower(email), phone,"
            " company, title, tags FROM bench_staging"
            " WHERE email ~ '^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$'"
            " ON CONFLICT (email) DO UPDATE SET first_name = excluded.first_name"
        )
        elapsed = time.perf_counter() - started
        cur.execute("DROP TABLE bench_flat, bench_staging")
    return elapsed


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


def ours_in_child(path: Path) -> tuple[float, int, float]:
    """Ours in a fresh process, as a worker runs it: seconds, contacts created, peak RSS (MB).

    One run gives both figures, so the million rows are imported once, not twice."""
    code = (
        "import os, sys, django, resource; os.environ.setdefault('DJANGO_SETTINGS_MODULE',"
        " 'config.settings'); django.setup(); from bench.bench_import import ours;"
        " from pathlib import Path; s, n = ours(Path(sys.argv[1]));"
        " print(s, n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    )
    seconds, created, max_rss_kb = out.stdout.split()[-3:]
    return float(seconds), int(created), int(max_rss_kb) / 1024


def sqlite_pair(path: Path) -> tuple[float, float]:
    """Ours on a fresh SQLite database (child process), and raw executemany of the file."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp}/bench.sqlite3", VAR_DIR=tmp)
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], env=env, check=True)
        code = (
            "import os, sys, django; os.environ.setdefault('DJANGO_SETTINGS_MODULE',"
            " 'config.settings'); django.setup(); from bench.bench_import import ours;"
            " from pathlib import Path; print(ours(Path(sys.argv[1]))[0])"
        )
        out = subprocess.run(
            [sys.executable, "-c", code, str(path)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        ours_s = float(out.stdout.split()[-1])
        db = sqlite3.connect(f"{tmp}/raw.sqlite3")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(
            "CREATE TABLE flat (id integer primary key, first_name text, last_name text,"
            " email text unique, phone text, company text, title text, tags text)"
        )
        started = time.perf_counter()
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            next(reader)
            with db:
                db.executemany(
                    "INSERT INTO flat (first_name, last_name, email, phone, company, title, tags)"
                    " VALUES (?, ?, lower(?), ?, ?, ?, ?)"
                    " ON CONFLICT(email) DO UPDATE SET first_name = excluded.first_name",
                    reader,
                )
        raw_s = time.perf_counter() - started
        db.close()
    return ours_s, raw_s


def run() -> Iterator[Row]:
    from django.db import connection

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "leads.csv"
        generate(path, ROWS)
        n = ROWS
        if connection.vendor == "postgresql":
            ours_s, created, peak = ours_in_child(path)
            ours_rps = n / ours_s
            print(f"    ours: {n:,} rows in {ours_s:.1f} s, {created:,} contacts", flush=True)
            raw_s = pg_copy_raw(path)
            yield Row(f"import {n:,} rows vs raw COPY (rows/s)", ours_rps, n / raw_s, "r/s", 0.5)
            try:
                ie_s = import_export(path, IE_ROWS)
            except ImportError:
                print("    django-import-export missing: pip install -e '.[bench]'", flush=True)
                ie_s = 0.0
            yield Row(
                f"import vs django-import-export ({IE_ROWS:,} slice)",
                ours_rps,
                IE_ROWS / ie_s if ie_s else 0.0,
                "r/s",
                30.0,
            )
            # Reported as headroom: 300 MB budget / peak, so >= 1 means under budget.
            yield Row(f"import peak RSS {peak:.0f} MB (300 MB budget)", 300, peak, "MB", 1.0)
        ours_sqlite, raw_sqlite = sqlite_pair(path)
        yield Row(
            f"SQLite import {n:,} rows vs raw executemany",
            n / ours_sqlite,
            n / raw_sqlite,
            "r/s",
        )


if __name__ == "__main__":
    for row in run():
        print(row.render())
