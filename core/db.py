import functools
import random
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import OperationalError, connection

T = TypeVar("T")

# Postgres: deadlock_detected, serialization_failure. SQLite: "database is locked".
_RETRY_PGCODES = {"40P01", "40001"}


def is_conflict(exc: OperationalError) -> bool:
    """A lost deadlock, serialization failure or lock wait: the same work may succeed now."""
    cause = exc.__cause__
    if getattr(cause, "sqlstate", None) in _RETRY_PGCODES:
        return True
    return "database is locked" in str(exc)


def retry_on_conflict(fn: Callable[..., T]) -> Callable[..., T]:
    """Retry a whole transaction that lost a deadlock or a lock wait.

    Lock order is the same everywhere (enrollment, message, sender), but Postgres still
    aborts the losing side of any deadlock it detects, so the caller retries.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        for attempt in range(6):
            try:
                return fn(*args, **kwargs)
            except OperationalError as exc:
                if attempt == 5 or not is_conflict(exc) or connection.in_atomic_block:
                    raise
                time.sleep(random.uniform(0.01, 0.05) * (2**attempt))
        raise AssertionError("unreachable")

    return wrapper
