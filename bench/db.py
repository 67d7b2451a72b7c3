"""A throw-away PostgreSQL database for one benchmark, so a benchmark never touches anybody's
data. The first benchmark to run migrates a template database (Django's test database
machinery), named after a digest of every migration file; each benchmark then gets a copy of
it (`CREATE DATABASE … TEMPLATE`, about a second) instead of running the migrations again
(40 s on the shared 2-core machine), which is what keeps every benchmark runnable in CI
(tests/foundation/test_benchmarks_run.py)."""

import contextlib
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def bench_database() -> Iterator[str]:
    """Create `bench_<DATABASE_URL's name>`, point the default connection at it, drop it after.

    Yields the database URL, for child processes (workers, dispatchers)."""
    if connection.vendor != "postgresql":
        raise SystemExit("benchmarks need PostgreSQL: run `make bench` (DATABASE_URL=postgres://…)")
    old_name = connection.settings_dict["NAME"]
    name = f"bench_{old_name}"
    template = _migrated_template(old_name)
    connection.close()
    with connection._nodb_cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    settings.DATABASES[connection.alias]["NAME"] = name
    connection.settings_dict["NAME"] = name
    try:
        yield database_url()
    finally:
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)


def _migrations_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(ROOT.glob("*/migrations/*.py")):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _migrated_template(base: str) -> str:
    """The name of a database migrated to this checkout's migrations, made if missing.
    Templates of other migration states of the same base name are dropped."""
    prefix = f"bench_tpl_{base}"[:50]
    template = f"{prefix}_{_migrations_digest()}"
    with connection._nodb_cursor() as cur:
        # Two benchmark runs starting together wait for one another instead of both
        # migrating the same template.
        cur.execute("SELECT pg_advisory_lock(hashtext(%s))", [prefix])
        try:
            cur.execute("SELECT datname FROM pg_database")
            # Exactly this base's templates: `bench_tpl_x_…` must not take `bench_tpl_x_y_…`.
            ours = re.compile(re.escape(prefix) + r"_[0-9a-f]{12}")
            existing = {row[0] for row in cur.fetchall() if ours.fullmatch(row[0])}
            for stale in existing - {template}:
                cur.execute(f'DROP DATABASE IF EXISTS "{stale}" WITH (FORCE)')
            if template not in existing:
                _migrate_into(template)
        finally:
            cur.execute("SELECT pg_advisory_unlock(hashtext(%s))", [prefix])
    return template


def _migrate_into(template: str) -> None:
    old_name = connection.settings_dict["NAME"]
    connection.settings_dict.setdefault("TEST", {})["NAME"] = template
    try:
        connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    finally:
        connection.close()  # a template must have no session open when it is copied
        settings.DATABASES[connection.alias]["NAME"] = old_name
        connection.settings_dict["NAME"] = old_name
        connection.settings_dict["TEST"].pop("NAME", None)


def database_url() -> str:
    s = connection.settings_dict
    user = s.get("USER") or "postgres"
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    host = s.get("HOST") or "127.0.0.1"
    port = s.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{s['NAME']}"


def vacuum_analyze(*tables: str) -> None:
    with connection.cursor() as cur:
        for table in tables:
            cur.execute(f"VACUUM ANALYZE {table}")
