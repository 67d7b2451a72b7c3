from pathlib import Path

import pytest

from contacts.imports import contact_import_create, contact_import_run, contact_import_start
from contacts.models import ContactImport
from tests.security.teams import two_teams  # noqa: F401  (a fixture for the contact pages' tests)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "csv"


def upload(name: str | Path, **options) -> ContactImport:
    path = name if isinstance(name, Path) else FIXTURES / name
    with open(path, "rb") as f:
        chunks = iter(lambda: f.read(64 * 1024), b"")
        return contact_import_create(name=path.name, chunks=chunks, **options)


def run_file(
    name: str | Path, *, mapping: list[str] | None = None, batch_size: int = 5000, **options
) -> ContactImport:
    """Upload, start and run an import in this process (the task's body, without Celery)."""
    options.setdefault("default_country", "DE")
    imp = upload(name, **options)
    if imp.status == ContactImport.Status.FAILED:
        return imp
    contact_import_start(contact_import=imp, mapping=mapping or imp.mapping)
    contact_import_run(contact_import_id=imp.pk, batch_size=batch_size)
    imp.refresh_from_db()
    return imp


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES
