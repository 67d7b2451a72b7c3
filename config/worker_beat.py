"""Each Celery worker says which queues it consumes, every WORKER_HEARTBEAT_SECONDS, and on
the same timer settles the sends of its machine's processes that are gone (below).

Why a row per worker and queue written by the worker, rather than asking the workers from
/readyz (`inspect().ping()` or `active_queues()`): a broadcast waits its whole timeout for
replies that may never come, so every probe of every web process would cost that timeout
and a control message to every worker; under load a busy broker or a worker's event loop
answers late and a healthy fleet looks dead. The row costs a worker one small UPSERT every
few seconds, and /readyz one indexed read of a table with a row per worker and queue
(docs/operations.md#readiness). The beat runs in the worker's main process, on its own
timer, so it says "this worker is up and consuming these queues" even while every pool
process is busy with a long import.
"""

import logging
from datetime import timedelta
from typing import Any

from celery.signals import worker_ready, worker_shutdown
from django.conf import settings
from django.db import connection
from django.utils import timezone

log = logging.getLogger(__name__)

# Rows of workers that were killed (and so never deleted their rows) go after this long.
PRUNE_AFTER = timedelta(days=1)


def worker_queues(consumer: Any) -> list[str]:
    """The queues this worker consumes (`-Q`, or every queue the configuration declares)."""
    return sorted(consumer.app.amqp.queues.consume_from or consumer.app.amqp.queues)


def beat(node: str, queues: list[str]) -> None:
    """Record that `node` consumes `queues` now."""
    from core.workers import WorkerBeat

    now = timezone.now()
    try:
        WorkerBeat.objects.bulk_create(
            [WorkerBeat(node=node, queue=q, beat_at=now) for q in queues],
            update_conflicts=True,
            unique_fields=["node", "queue"],
            update_fields=["beat_at"],
        )
        WorkerBeat.objects.filter(beat_at__lt=now - PRUNE_AFTER).delete()
    except Exception:  # a database restart must not stop the worker; the next beat retries
        log.warning("worker heartbeat not written", exc_info=True)
    finally:
        # A fresh connection each beat: one kept open in the main process would be
        # inherited by every pool process forked later.
        connection.close()


def gone_claims_settle() -> None:
    """Settle the sends claimed by processes of this machine that are gone (a pool process
    killed mid-batch): at once, not after SEND_GRACE, even where the dispatcher runs in
    another container and cannot see this one's processes (docs/reliability.md, "Claims of
    a process that is gone")."""
    from outreach.sending.reconcile import claims_of_gone_processes_settle

    try:
        claims_of_gone_processes_settle()
    except Exception:  # as for the beat: the next one tries again
        log.warning("claims of gone processes not settled", exc_info=True)
    finally:
        connection.close()  # not inherited by pool processes forked later (see beat)


@worker_ready.connect
def start_beating(sender: Any, **kwargs: Any) -> None:
    node, queues = sender.hostname, worker_queues(sender)
    beat(node, queues)
    sender.timer.call_repeatedly(settings.WORKER_HEARTBEAT_SECONDS, beat, (node, queues))
    sender.timer.call_repeatedly(settings.WORKER_HEARTBEAT_SECONDS, gone_claims_settle, ())


@worker_shutdown.connect
def stop_beating(sender: Any, **kwargs: Any) -> None:
    """A worker that stops cleanly leaves at once, not after its beats go stale."""
    from core.workers import WorkerBeat

    try:
        WorkerBeat.objects.filter(node=sender.hostname).delete()
    except Exception:
        log.warning("worker heartbeat rows not removed", exc_info=True)
    finally:
        connection.close()
