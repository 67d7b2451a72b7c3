"""A throw-away PostgreSQL database for one benchmark, made and dropped with Django's test
database machinery (migrations included), so a benchmark never touches anybody's data."""

import contextlib
from collections.abc import Iterator

from django.db import connection


@contextlib.contextmanager
def bench_database() -> Iterator[str]:
    """Create `bench_<DATABASE_URL's name>`, point the default connection at it, drop it after.

    Yields the database URL, for child processes (workers, dispatchers)."""
    if connection.vendor != "postgresql":
        raise SystemExit("benchmarks need PostgreSQL: run `make bench` (DATABASE_URL=postgres://…)")
    old_name = connection.settings_dict["NAME"]
    connection.settings_dict.setdefault("TEST", {})["NAME"] = f"bench_{old_name}"
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        yield database_url()
    finally:
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)


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
