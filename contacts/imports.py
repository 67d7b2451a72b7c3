"""Services for CSV imports: upload, start, run in batches, cancel, resume, roll back."""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from celery import shared_task
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from contacts.csv_import import (
    IDENTITY_TARGETS,
    FileProblem,
    ParsedRow,
    RowError,
    RowParser,
    Sniffed,
    auto_mapping,
    read_records,
    sniff,
    valid_target,
)
from contacts.custom_keys import custom_targets
from contacts.import_writer import TagCache, write_batch
from contacts.models import Contact, ContactImport, ContactImportError, Identity, SavedMapping
from contacts.seams import ContactsImported, contacts_events
from contacts.services import erased_suppressions_apply
from core.access import owners_assignable_by

log = logging.getLogger(__name__)

MAX_STORED_ERRORS = 100_000  # beyond this only the count grows
WARNING_PREFIX = "imported without this value: "
KEPT_SUFFIX = ": kept"  # normalize.phone_or_doubt: imported, with a warning
Status = ContactImport.Status


def import_dir() -> Path:
    path = Path(settings.VAR_DIR) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _may_name(user, owner) -> bool:
    return owners_assignable_by(user).filter(pk=owner.pk).exists()


def contact_import_create(
    *, name: str, chunks: Iterable[bytes], user=None, **options
) -> ContactImport:
    """Stream the upload to disk chunk by chunk, then sniff its format and guess a mapping.

    A file that cannot be read at all still gets a ContactImport (status failed, with the
    reason), so the user sees what went wrong instead of an error page.

    The owner given to the contacts must be someone ``user`` may name (the form offers no
    one else; checked again here for every caller)."""
    owner = options.get("owner")
    if owner is not None and user is not None and not _may_name(user, owner):
        raise ValueError(f"{user} may not make {owner} the owner of imported contacts.")
    path = import_dir() / f"{uuid.uuid4().hex}.csv"
    size = 0
    with open(path, "wb") as f:
        for chunk in chunks:
            f.write(chunk)
            size += len(chunk)
    imp = ContactImport(
        original_name=name[:255], path=str(path), size=size, created_by=user, **options
    )
    try:
        sniffed = sniff(path)
    except FileProblem as exc:
        imp.status, imp.message = Status.FAILED, str(exc)
    else:
        imp.sniffed = sniffed.as_dict()
        imp.mapping = auto_mapping(sniffed.header)
        if not imp.default_country:
            # Shown on the mapping page with its reason, where the user can change it.
            imp.default_country = sniffed.country
    imp.save()
    return imp


UNREAD_FILE = "This file could not be read (no header row was found): upload it again."


def contact_import_preview(*, contact_import: ContactImport, rows: int = 10) -> Sniffed:
    return sniff(Path(contact_import.path), preview_rows=rows)


def mapping_from_saved(*, saved: SavedMapping, header: list[str]) -> list[str]:
    return [saved.columns.get(h, "") for h in header]


def contact_import_start(
    *,
    contact_import: ContactImport,
    mapping: list[str],
    save_as: str = "",
    default_country: str | None = None,
) -> ContactImport:
    """Start with this mapping; ``default_country`` (already checked, e.g. by
    validators.default_country) replaces the one from the upload or the file's suggestion."""
    imp = contact_import
    if imp.status != Status.UPLOADED:
        raise ValueError(f"This import is {imp.get_status_display().lower()}; it cannot start.")
    header = imp.sniffed.get("header")
    if not header:
        raise ValueError(UNREAD_FILE)
    if len(mapping) != len(header) or not all(valid_target(t) for t in mapping):
        raise ValueError("The mapping does not fit the file's columns.")
    mapping = custom_targets(mapping, header)  # keys templates can use, however they came
    if not any(t in IDENTITY_TARGETS for t in mapping):
        # Every row would fail: a contact needs one way to reach them.
        raise ValueError(
            "No column is mapped to an email, phone or channel handle (Instagram, WhatsApp, "
            "LinkedIn …): map at least one, or no row can be imported."
        )
    imp.mapping = mapping
    imp.status = Status.QUEUED
    imp.heartbeat_at = timezone.now()  # queued now: the sweeper re-queues it if its task is lost
    if default_country is not None:
        imp.default_country = default_country
    with transaction.atomic():
        imp.save(update_fields=["mapping", "status", "default_country", "heartbeat_at"])
        if save_as.strip():
            SavedMapping.objects.update_or_create(
                name=save_as.strip()[:100],
                defaults={"columns": {h: t for h, t in zip(header, mapping, strict=True) if h}},
            )
        _enqueue(imp)
    return imp


def _enqueue(imp: ContactImport) -> None:
    _enqueue_id(imp.pk)


def _enqueue_id(import_id: int) -> None:
    # robust: with the broker down the import is still queued in the database, and the
    # page that started it answers; beat's sweep_lost_imports queues it once it is stale.
    def publish_import_run() -> None:
        contact_import_run_task.delay(import_id)

    transaction.on_commit(publish_import_run, robust=True)


def contact_import_cancel(*, contact_import: ContactImport) -> None:
    """Stops after the batch being written; what is committed stays (roll back to undo)."""
    ContactImport.objects.filter(pk=contact_import.pk, status=Status.RUNNING).update(
        status=Status.CANCELLING
    )
    ContactImport.objects.filter(pk=contact_import.pk, status=Status.QUEUED).update(
        status=Status.CANCELLED
    )


def contact_import_resume(*, contact_import: ContactImport) -> None:
    """Carry on from the last committed batch after a cancel or a failure.

    A running import is not resumed: a second worker would read the same rows at once. A
    run that died mid-import is found by the sweeper (contact_imports_sweep)."""
    with transaction.atomic():
        n = ContactImport.objects.filter(
            pk=contact_import.pk, status__in=[Status.CANCELLED, Status.FAILED]
        ).update(status=Status.QUEUED, message="", heartbeat_at=timezone.now(), lost_runs=0)
        if not n:
            status = ContactImport.objects.get(pk=contact_import.pk).get_status_display()
            raise ValueError(
                f"This import is {status.lower()}; only a cancelled or failed import can resume."
            )
        _enqueue(contact_import)


def contacts_activity(contact_ids) -> dict[str, set[int]]:
    """{what: contact ids} for what deleting these contacts would also delete (conversations
    with messages, replies, enrollments, deals), as the apps above contacts report it."""
    return contacts_events().contact_activity(contact_ids)


def _without_activity(contact_ids: list[int]) -> list[int]:
    active = set().union(*contacts_activity(contact_ids).values())
    return [i for i in contact_ids if i not in active]


@dataclass(frozen=True)
class RollbackPreview:
    contacts: int  # created by the import, so a rollback deletes them
    active: int  # of those, how many have activity
    activity: list[tuple[str, int]]  # (what, how many contacts)

    @property
    def inactive(self) -> int:
        return self.contacts - self.active


def contact_import_rollback_preview(*, contact_import: ContactImport) -> RollbackPreview:
    created = Contact.objects.filter(created_by_import=contact_import.pk)
    activity = contacts_activity(created.values("id"))
    return RollbackPreview(
        contacts=created.count(),
        active=len(set().union(*activity.values())),
        activity=[(what, len(ids)) for what, ids in activity.items() if ids],
    )


def contact_import_rollback(*, contact_import: ContactImport, keep_active: bool = True) -> int:
    """Delete the contacts and identities this import created. Field updates it made to
    contacts that existed before are not reverted. Returns the number of contacts deleted.

    Deleting a contact deletes its conversations, messages, enrollments and deals with it
    (the ORM cascades). With keep_active, contacts with any such activity are kept, with
    the identities the import gave them; activity is read per batch, just before it goes."""
    if contact_import.is_active:
        raise ValueError("Cancel the import before rolling it back.")
    deleted, last = 0, 0
    while True:
        ids = list(
            Contact.objects.filter(created_by_import=contact_import.pk, id__gt=last)
            .order_by("id")
            .values_list("id", flat=True)[:2000]
        )
        if not ids:
            break
        last = ids[-1]
        with transaction.atomic():
            doomed = _without_activity(ids) if keep_active else ids
            Contact.objects.filter(id__in=doomed).delete()  # cascades to other apps' rows
        deleted += len(doomed)
    # What is left: identities the import added to contacts it did not create, and, with
    # keep_active, to the contacts kept. A conversation hangs off its identity, so a
    # contact with activity keeps them all, whatever keep_active says: that choice is
    # about the contacts the import created, not about the ones it only updated.
    identities = Identity.objects.filter(created_by_import=contact_import.pk)
    owners = sorted(set(identities.values_list("contact_id", flat=True)))
    for start in range(0, len(owners), 2000):
        chunk = owners[start : start + 2000]
        with transaction.atomic():
            identities.filter(contact_id__in=_without_activity(chunk)).delete()
    ContactImport.objects.filter(pk=contact_import.pk).update(status=Status.ROLLED_BACK)
    return deleted


class _Batch(NamedTuple):
    rows: list[ParsedRow]
    errors: list[RowError]
    records: int
    bytes_read: int  # how far into the file the reader was after this batch, for progress


def _batches(reader: read_records, skip: int, parser: RowParser, size: int) -> Iterator[_Batch]:
    records = itertools.islice(reader, skip, None)
    parse = parser.parse
    while True:
        rows: list[ParsedRow] = []
        errors: list[RowError] = []
        n = 0
        for record in itertools.islice(records, size):
            n += 1
            parsed = parse(record)
            if isinstance(parsed, ParsedRow):
                rows.append(parsed)
            else:
                errors += parsed
        if n == 0:
            return
        yield _Batch(rows, errors, n, reader.bytes_read())


class _ReadAhead:
    """Reads and validates the next batches on a thread while this one is being written.

    Validation is pure Python and the writer mostly waits on the database (psycopg releases
    the GIL while it waits), so the two overlap. At most `depth` batches wait in the queue,
    which bounds memory. Errors on the thread (an unreadable file) reach the consumer."""

    _END = object()

    def __init__(self, batches: Iterator[_Batch], depth: int = 2) -> None:
        self._batches = batches
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="import-read-ahead", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for batch in self._batches:
                if not self._put(batch):
                    return
            self._put(self._END)
        except BaseException as exc:  # handed to the consumer, which decides
            self._put(exc)
        finally:
            close = getattr(self._batches, "close", None)
            if close:
                close()  # closes the file now, not whenever the generator is collected

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[_Batch]:
        while True:
            item = self._queue.get()
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


class RunSuperseded(Exception):
    """This run's claim is gone (the sweeper gave the import to another run): stop, and
    roll back the batch being written."""


def _stale_before(now: datetime) -> datetime:
    return now - timedelta(seconds=settings.JOB_STALE_AFTER)


def contact_import_run(
    *, contact_import_id: int, time_budget: float | None = None, batch_size: int | None = None
) -> bool:
    """Import from the last checkpoint on. Returns True if time ran out with work left.

    The run claims the import with a token of its own. A queued import, or a running one
    whose run stopped proving it is alive (no heartbeat for JOB_STALE_AFTER), can be
    claimed; a running one with a live run cannot, so a task the broker delivers twice
    never reads the same rows as the run already at work."""
    batch_size = batch_size or settings.IMPORT_BATCH_SIZE
    token, now = uuid.uuid4().hex, timezone.now()
    stale = Q(status=Status.RUNNING) & (
        Q(heartbeat_at__lt=_stale_before(now)) | Q(heartbeat_at__isnull=True)
    )
    claimed = (
        ContactImport.objects.filter(pk=contact_import_id)
        .filter(Q(status=Status.QUEUED) | stale)
        .update(status=Status.RUNNING, run_token=token, heartbeat_at=now)
    )
    if not claimed:
        return False
    imp = ContactImport.objects.get(pk=contact_import_id)
    if imp.started_at is None:
        ContactImport.objects.filter(pk=imp.pk).update(started_at=timezone.now())
    sniffed = Sniffed(**imp.sniffed, preview=[])
    parser = RowParser(sniffed.header, imp.mapping, imp.default_country)
    tags = TagCache()
    started = time.monotonic()
    reader = read_records(Path(imp.path), sniffed)
    batches = _ReadAhead(_batches(reader, imp.records_done, parser, batch_size))
    try:
        for batch in batches:
            t0 = time.monotonic()
            result = _write_batch_and_checkpoint(imp, token, batch, tags)
            ContactImport.objects.filter(pk=imp.pk).update(
                seconds_running=F("seconds_running") + (time.monotonic() - t0)
            )
            if result.contact_ids:
                # What the apps above do with it (enrol into a campaign) never stops the
                # import: a failure is logged and the next batch goes on.
                try:
                    contacts_events().contacts_imported(
                        ContactsImported(imp, contact_ids=result.contact_ids)
                    )
                except Exception:
                    log.exception("import %s: contacts_imported failed", imp.pk)
            status = ContactImport.objects.values_list("status", flat=True).get(pk=imp.pk)
            if status == Status.CANCELLING:
                ContactImport.objects.filter(pk=imp.pk).update(status=Status.CANCELLED)
                return False
            if time_budget is not None and time.monotonic() - started > time_budget:
                # Queued again for the continuation the task publishes; if that publish is
                # lost, the sweeper queues it once its heartbeat is stale.
                mine = ContactImport.objects.filter(
                    pk=imp.pk, run_token=token, status=Status.RUNNING
                )
                return bool(mine.update(status=Status.QUEUED, heartbeat_at=timezone.now()))
    except RunSuperseded:
        log.warning("import %s: this run was replaced by a newer one; it stops", imp.pk)
        return False
    except OSError as exc:
        _fail(imp, token, f"The file could not be read: {exc}")
        return False
    except Exception as exc:
        # Committed batches stay; the import can be resumed or rolled back from here.
        log.exception("import %s failed", imp.pk)
        _fail(imp, token, f"Stopped by an unexpected error: {exc!r}")
        return False
    finally:
        batches.close()
    imp.refresh_from_db(fields=["records_done"])
    # A header and nothing under it: say so, or "Done 100%, 0 rows" reads as a lost import.
    empty = "The file has a header row but no data rows: there was nothing to import."
    ContactImport.objects.filter(pk=imp.pk, status=Status.RUNNING, run_token=token).update(
        status=Status.DONE,
        finished_at=timezone.now(),
        size_done=imp.size,
        message=empty if imp.records_done == 0 else "",
    )
    return False


def _fail(imp: ContactImport, token: str, message: str) -> None:
    ContactImport.objects.filter(pk=imp.pk, run_token=token).update(
        status=Status.FAILED, message=message
    )


def _write_batch_and_checkpoint(imp: ContactImport, token: str, batch: _Batch, tags: TagCache):
    """The batch's contacts and the import's checkpoint commit in one transaction, so a crash
    leaves either both or neither. A concurrent writer taking one of our identities first
    makes the insert fail: the batch is then matched and written again.

    The checkpoint is fenced by the run's token: a run the sweeper replaced (it stalled past
    JOB_STALE_AFTER, then woke up) finds no row to update and rolls its batch back, so no
    row is ever imported by two runs."""
    rows, errors, n = batch.rows, batch.errors, batch.records
    for attempt in (1, 2, 3):
        try:
            with transaction.atomic():
                result = write_batch(imp, rows, tags)
                erased_suppressions_apply(contact_ids=result.contact_ids)
                all_errors = sorted(errors + result.errors, key=lambda e: e.line)
                failed = len({e.line for e in all_errors})
                warnings = [w for row in rows for w in row.warnings]
                _store_errors(imp, all_errors, warnings)
                checkpointed = ContactImport.objects.filter(
                    pk=imp.pk, run_token=token, status__in=[Status.RUNNING, Status.CANCELLING]
                ).update(
                    heartbeat_at=timezone.now(),
                    lost_runs=0,
                    records_done=F("records_done") + n,
                    created=F("created") + result.created,
                    updated=F("updated") + result.updated,
                    unchanged=F("unchanged") + result.unchanged,
                    duplicates=F("duplicates") + result.duplicates,
                    skipped=F("skipped") + result.skipped,
                    failed=F("failed") + failed,
                    warnings=F("warnings") + len(warnings),
                    size_done=batch.bytes_read,
                )
                if not checkpointed:
                    raise RunSuperseded
            return result
        except IntegrityError:
            if attempt == 3:
                raise
            tags.ids.clear()  # tags created in the rolled-back transaction are gone
    raise AssertionError("unreachable")


def _store_errors(imp: ContactImport, errors: list[RowError], warnings: list[RowError]) -> None:
    stored = ContactImportError.objects.filter(contact_import=imp).count()
    room = max(0, MAX_STORED_ERRORS - stored)
    # Errors first: when room runs out, a rejected row matters more than a skipped value.
    problems = [(e, False) for e in errors] + [(w, True) for w in warnings]
    ContactImportError.objects.bulk_create(
        [
            ContactImportError(
                contact_import=imp,
                line=e.line,
                column=_storable(e.column)[:255],
                reason=_storable(e.reason),
                row=[_storable(c) for c in e.cells],
                warning=warning,
            )
            for e, warning in problems[:room]
        ],
        batch_size=2000,
    )


def _storable(text: str) -> str:
    # PostgreSQL text cannot hold NUL or undecodable bytes: show them as visible marks.
    text = text.replace("\x00", "\u2400")
    return text if text.isascii() else text.encode("utf-8", "replace").decode("utf-8")


def import_warnings(*, contact_import: ContactImport, limit: int = 20) -> list[ContactImportError]:
    """The first values left out of imported rows, for the import's page."""
    return list(contact_import.errors.filter(warning=True).order_by("line", "id")[:limit])


def import_error_rows(*, contact_import: ContactImport) -> Iterator[list]:
    """Every rejected row and every value left out of an imported row: line, column,
    reason, then the original cells (downloaded through contacts.csv_download, which
    guards the cells against formulas)."""
    header = contact_import.sniffed.get("header", [])
    yield ["line", "column", "reason", *header]
    for err in contact_import.errors.order_by("line", "id").iterator(chunk_size=2000):
        kept = err.reason.endswith(KEPT_SUFFIX)  # a doubtful value imported all the same
        reason = f"{WARNING_PREFIX}{err.reason}" if err.warning and not kept else err.reason
        yield [err.line, err.column, reason, *(err.row or [])]


# Lost runs. A worker killed outright (SIGKILL, a machine gone) leaves its task unacked on
# Redis until the visibility timeout, and its import "running". Beat's sweep_lost_imports
# finds imports whose heartbeat (claim, each committed batch) is older than JOB_STALE_AFTER
# and queues them again: the next run claims them with a new token and carries on from the
# last committed batch (the old token can no longer checkpoint). After JOB_MAX_LOST_RUNS such
# losses with no batch committed in between, the import fails with the reason instead.


@dataclass
class SweepResult:
    resumed: int = 0
    requeued: int = 0  # queued imports whose task never came: queued again
    failed: int = 0
    cancelled: int = 0


def contact_imports_sweep(*, now: datetime | None = None) -> SweepResult:
    now = now or timezone.now()
    result = SweepResult()
    stale = Q(heartbeat_at__lt=_stale_before(now)) | Q(heartbeat_at__isnull=True)
    active = [Status.QUEUED, Status.RUNNING, Status.CANCELLING]
    ids = list(
        ContactImport.objects.filter(stale, status__in=active).values_list("pk", flat=True)[:100]
    )
    for pk in ids:
        with transaction.atomic():
            imp = ContactImport.objects.select_for_update().filter(stale, pk=pk).first()
            if imp is None or imp.status not in active:
                continue  # its run proved alive, or it ended, since the list was read
            outcome = _sweep_one(imp, now)
            setattr(result, outcome, getattr(result, outcome) + 1)
    return result


def _sweep_one(imp: ContactImport, now: datetime) -> str:
    fields = {"run_token": "", "heartbeat_at": now}
    if imp.status == Status.CANCELLING:
        ContactImport.objects.filter(pk=imp.pk).update(status=Status.CANCELLED, **fields)
        return "cancelled"
    if imp.status == Status.QUEUED:
        # Waiting behind a long queue looks the same as a lost task; queuing it again is
        # harmless (one run claims it), so it never counts as a lost run.
        ContactImport.objects.filter(pk=imp.pk).update(**fields)
        _enqueue_id(imp.pk)
        return "requeued"
    lost = imp.lost_runs + 1
    if lost >= settings.JOB_MAX_LOST_RUNS:
        last = (
            timezone.localtime(imp.heartbeat_at).strftime("%Y-%m-%d %H:%M")
            if imp.heartbeat_at
            else "never"
        )
        message = (
            f"Stopped: its worker was lost {lost} times in a row without finishing a batch "
            f"(last sign of life {last}), after row {imp.records_done:,}. Rows up to there are "
            "imported; resume to carry on from there, or roll back."
        )
        ContactImport.objects.filter(pk=imp.pk).update(
            status=Status.FAILED, message=message, lost_runs=lost, **fields
        )
        log.warning("import %s failed: %s", imp.pk, message)
        return "failed"
    ContactImport.objects.filter(pk=imp.pk).update(status=Status.QUEUED, lost_runs=lost, **fields)
    _enqueue_id(imp.pk)
    log.warning("import %s: its run was lost (%s in a row); resumed", imp.pk, lost)
    return "resumed"


# Each run works for at most this long, then queues its own continuation: under the global
# task time limit, and a killed worker loses at most one batch (resumed by the sweeper).
TIME_BUDGET = 45.0


# Defined here, next to the run it queues (contacts/tasks.py imports it for Celery), so this
# module never imports the tasks module that imports it. The name is the one runs already
# queued were sent under.
@shared_task(
    name="contacts.tasks.contact_import_run_task",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def contact_import_run_task(contact_import_id: int) -> None:
    # Safe to deliver twice: the run resumes from the checkpoint committed with each batch.
    if contact_import_run(contact_import_id=contact_import_id, time_budget=TIME_BUDGET):
        contact_import_run_task.delay(contact_import_id)


@shared_task(name="contacts.tasks.sweep_lost_imports", ignore_result=True)
def sweep_lost_imports() -> dict:
    return contact_imports_sweep().__dict__
