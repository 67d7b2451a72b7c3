"""Processing stored inbound events: each applied once, in its own transaction; a failure is
retried with backoff, then quarantined, and can be replayed from the admin."""

import logging
from datetime import timedelta

import structlog
from django.db import OperationalError, transaction
from django.db.models import Q
from django.utils import timezone

from core.db import is_conflict, retry_on_conflict
from outreach.channels.base import InboundItem
from outreach.inbound.apply import item_apply
from outreach.inbound.store import Unparseable, event_parse_again, storable
from outreach.models import InboundEvent

log = logging.getLogger(__name__)


CONFLICT = "conflict"  # inbound_event_process: not applied yet, worth trying again at once


# Failed attempts before an event is quarantined (backoff 1, 2, 4, 8 minutes between them).
MAX_ATTEMPTS = 5


def inbound_event_process(*, event_id: int) -> str:
    """Apply one stored event once. A failure is retried by the sweeper with backoff, then
    the event is quarantined with its error (see inbound_events_replay); either way, the
    events after it go on."""
    # Every log line of this event's processing names it (LOG_FORMAT=json, config/logs.py).
    with structlog.contextvars.bound_contextvars(inbound_event_id=event_id):
        outcome = _event_process(event_id)
        log.info("inbound event processed: %s", outcome)
        return outcome


def _event_process(event_id: int) -> str:
    try:
        return _event_apply(event_id)
    except OperationalError as exc:
        if not is_conflict(exc):
            log.exception("inbound event %s failed", event_id)
            return _attempt_failed(event_id, exc)
        # Lost its locks on every quick retry (many replies to one campaign at once): the
        # caller tries again within seconds; the sweeper's backoff would hold it a minute.
        log.warning("inbound event %s lost its locks again; trying again shortly", event_id)
        return CONFLICT
    except Exception as exc:
        log.exception("inbound event %s failed", event_id)
        return _attempt_failed(event_id, exc)


@retry_on_conflict  # a lost deadlock is tried again at once, not after the sweeper's minute
def _event_apply(event_id: int) -> str:
    with transaction.atomic():
        event = (
            InboundEvent.objects.select_for_update()
            .filter(id=event_id, processed_at=None, quarantined_at=None)
            # The body as received (a mail with its attachments can be megabytes) is read
            # only when it was stored unparsed: event_parse_again loads it then.
            .defer("raw")
            .first()
        )
        if event is None:
            return "already processed"
        if event.payload:
            item = InboundItem(**event.payload)
            outcome = item_apply(event, item)
        else:
            outcome = event_parse_again(event)
        event.processed_at, event.error, event.retry_at = timezone.now(), "", None
        event.save(update_fields=["processed_at", "error", "retry_at"])
        return outcome


def _attempt_failed(event_id: int, exc: Exception) -> str:
    """Count the failed attempt: try again later (backoff), or quarantine after the last."""
    now = timezone.now()
    with transaction.atomic():
        event = (
            InboundEvent.objects.select_for_update()
            .filter(id=event_id, processed_at=None, quarantined_at=None)
            .first()
        )
        if event is None:
            return "error"
        event.attempts += 1
        event.error = storable(f"{type(exc).__name__}: {exc}")[:2000]
        if isinstance(exc, Unparseable) or event.attempts >= MAX_ATTEMPTS:
            event.quarantined_at, event.retry_at = now, None
        else:
            event.retry_at = now + timedelta(seconds=min(30 * 2**event.attempts, 3600))
        event.save(update_fields=["attempts", "error", "quarantined_at", "retry_at"])
    return "quarantined" if event.quarantined_at else "error"


def inbound_events_sweep(*, older_than: float = 30.0) -> int:
    """Process events whose task was lost (a broker down, a worker killed) and failed events
    whose retry time came. Each is taken on its own: a failing one never blocks the rest."""
    now = timezone.now()
    stale = now - timedelta(seconds=older_than)
    ids = (
        InboundEvent.objects.filter(processed_at=None, quarantined_at=None)
        .filter(Q(retry_at=None, received_at__lt=stale) | Q(retry_at__lte=now))
        .order_by("id")
        .values_list("id", flat=True)
    )
    return sum(inbound_event_process(event_id=i) not in ("error", "quarantined") for i in ids[:500])


def inbound_events_replay(*, event_ids: list[int]) -> dict[str, int]:
    """Try quarantined (or waiting) events again now, as new: the admin's "replay". A body
    stored unread is read again by today's parser. Returns how many ended how."""
    outcomes: dict[str, int] = {}
    for event_id in event_ids:
        reset = InboundEvent.objects.filter(id=event_id, processed_at=None).update(
            quarantined_at=None, retry_at=None, attempts=0
        )
        outcome = inbound_event_process(event_id=event_id) if reset else "already processed"
        key = outcome if outcome in ("error", "quarantined", "already processed") else "processed"
        outcomes[key] = outcomes.get(key, 0) + 1
    return outcomes
