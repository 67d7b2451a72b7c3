"""An import whose worker is killed outright is resumed by the sweeper, never left running.

Real Celery workers in their own processes; the first is SIGKILLed (process group, no
cleanup) mid-import, so its task stays unacked on the broker and the import row says
"running". The sweeper (beat's sweep_lost_imports) sees no heartbeat for JOB_STALE_AFTER and
queues it again; a new worker carries on from the last committed batch.
"""

import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from contacts.imports import contact_imports_sweep
from contacts.models import Contact, ContactImport, Identity
from tests.processes import wait_for

pytestmark = [pytest.mark.live_worker, pytest.mark.django_db(transaction=True)]

ROWS = 5000
STALE = "3"
WORKER_ENV = {"JOB_STALE_AFTER": STALE, "IMPORT_BATCH_SIZE": "100"}


def _csv() -> bytes:
    lines = ["email,first_name"] + [f"lead{i}@example.com,Lead {i}" for i in range(ROWS)]
    return ("\n".join(lines) + "\n").encode()


def _imp() -> ContactImport:
    return ContactImport.objects.get()


def _rows_done_on_the_page(client, pk: int) -> int:
    page = client.get(f"/contacts/imports/{pk}/progress/").content.decode()
    return int(re.search(r"(\d+) rows? done", page).group(1))


def test_an_import_whose_worker_is_killed_finishes_on_a_new_worker_with_every_row_once(
    admin_client, worker_factory, settings
):
    settings.JOB_STALE_AFTER = float(STALE)
    first = worker_factory("importer1", concurrency=1, **WORKER_ENV)
    admin_client.post(
        "/contacts/imports/", {"file": SimpleUploadedFile("leads.csv", _csv()), "mode": "update"}
    )
    pk = _imp().pk
    admin_client.post(f"/contacts/imports/{pk}/", {"col_0": "email", "col_1": "first_name"})

    wait_for(lambda: _imp().records_done >= 100, 60, 0.02, "a first batch committed")
    first.kill()
    at_kill = _imp()
    assert at_kill.status == ContactImport.Status.RUNNING
    assert 0 < at_kill.records_done < ROWS
    # The page shows where it stopped, however long it waits for the sweeper.
    assert _rows_done_on_the_page(admin_client, pk) == at_kill.records_done
    assert contact_imports_sweep().resumed == 0  # its heartbeat is still fresh

    worker_factory("importer2", concurrency=1, **WORKER_ENV)
    resumed = []
    wait_for(
        lambda: resumed.append(contact_imports_sweep().resumed) or sum(resumed) == 1,
        30,
        0.5,
        "the sweeper to resume the lost import",
    )
    seen = [at_kill.records_done]

    def finished() -> bool:
        seen.append(_rows_done_on_the_page(admin_client, pk))
        return _imp().status == ContactImport.Status.DONE

    wait_for(finished, 120, 0.2, "the import to finish on the new worker")

    imp = _imp()
    assert (imp.records_done, imp.created, imp.updated, imp.failed) == (ROWS, ROWS, 0, 0)
    assert imp.lost_runs == 0 and imp.message == ""
    assert Contact.objects.count() == ROWS
    assert Identity.objects.count() == ROWS
    assert Identity.objects.values("value").distinct().count() == ROWS
    assert seen == sorted(seen)  # progress never went backwards on the page


def test_an_import_lost_again_and_again_without_progress_fails_with_the_reason(settings):
    settings.JOB_STALE_AFTER = 1.0
    settings.JOB_MAX_LOST_RUNS = 2
    imp = ContactImport.objects.create(
        original_name="x.csv", path="/nonexistent/x.csv", status="running", records_done=300
    )
    long_ago = timezone.now() - timedelta(minutes=5)
    ContactImport.objects.filter(pk=imp.pk).update(heartbeat_at=long_ago)
    assert contact_imports_sweep().resumed == 1
    imp.refresh_from_db()
    assert (imp.status, imp.lost_runs) == ("queued", 1)
    # Its task was lost too (no worker here): as if claimed and lost again.
    ContactImport.objects.filter(pk=imp.pk).update(status="running", heartbeat_at=long_ago)
    assert contact_imports_sweep().failed == 1
    imp.refresh_from_db()
    assert imp.status == "failed"
    assert "worker was lost 2 times in a row" in imp.message
    assert "after row 300" in imp.message
