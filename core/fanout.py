"""Optional fan-out: news for whoever listens (today the outgoing webhooks), sent last by the
code that made the change, inside its transaction.

Work that must happen with the change is called directly (campaigns/seams.py); these signals
are only for what may fail alone. fan_out() runs each receiver in its own savepoint: one
that raises is logged and rolled back by itself, and the change that sent the signal
commits all the same (the outer PostgreSQL transaction stays usable). The signals live with
the app that sends them: campaigns/signals.py, pipelines/signals.py.
"""

import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.dispatch import Signal

log = logging.getLogger(__name__)

Receiver = Callable[..., None]


def wanted_when(predicate: Callable[..., bool]) -> Callable[[Receiver], Receiver]:
    """Mark a fan-out receiver with a cheap read-only check run before its savepoint: when it
    answers False the receiver has nothing to do, and the savepoint (two round trips to the
    database on every reply, docs/performance.md#inbound-processing) is skipped."""

    def mark(receiver: Receiver) -> Receiver:
        receiver.wanted = predicate  # type: ignore[attr-defined]
        return receiver

    return mark


class FanOut(Signal):
    """A signal sent with fan_out(): every receiver is tried, each inside its own savepoint.

    Receivers are synchronous (Django would run async ones outside the transaction)."""

    def fan_out(self, sender, **named) -> None:
        if not self.receivers:
            return
        sync_receivers, _ = self._live_receivers(sender)
        for receiver in sync_receivers:
            wanted: Any = getattr(receiver, "wanted", None)
            if wanted is not None and not wanted(sender=sender, **named):
                continue
            try:
                with transaction.atomic():
                    receiver(signal=self, sender=sender, **named)
            except Exception:
                log.exception("fan-out receiver %s failed", receiver.__qualname__)
