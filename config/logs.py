"""JSON logs (LOG_FORMAT=json): structlog renders every record, ours and the libraries',
as one JSON object per line, with the ids the code bound for the work at hand.

The send path binds message, sender and channel ids (outreach/sending/deliver.py), the
inbound path the event id (outreach/inbound/process.py), and campaigns the enrolment id of
each step sent or sequence stopped (campaigns/services.py), with structlog's context
variables; a Celery task's id and name are added here from the task running in this thread.
"""

import logging
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog
from celery import current_task
from celery.signals import celeryd_init


def celery_task_ids(logger: Any, method: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
    task = current_task
    if task and task.request.id:
        event.setdefault("task_id", task.request.id)
        event.setdefault("task", task.name)
    return event


# Applied to stdlib records (every existing `logging.getLogger(__name__)` call) and to
# structlog's own, so both come out the same way.
SHARED: list[structlog.typing.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    celery_task_ids,
]


class PlainFormatter(logging.Formatter):
    """The "plain" formatter of settings.LOGGING: the text line, then the ids bound for the
    work at hand as key=value, so a plain log can be grepped for a message or an enrolment
    as the JSON one can."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = structlog.contextvars.get_contextvars()
        if ids:
            line += " " + " ".join(f"{key}={value}" for key, value in ids.items())
        return line


def json_formatter() -> logging.Formatter:
    """The "json" formatter of settings.LOGGING."""
    # Python's warnings (Celery's SecurityWarning, deprecations) as log events too, not as
    # bare text on stderr.
    logging.captureWarnings(True)
    structlog.configure(
        processors=[*SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=SHARED,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
    )


@celeryd_init.connect
def quiet_banner_for_json(sender: Any, instance: Any, **kwargs: Any) -> None:
    """With JSON logs a worker prints no start-up banner: it is not JSON, and every line of
    the worker's output must be (its "ready" line still comes, as a log event)."""
    from django.conf import settings

    if settings.LOG_FORMAT == "json":
        instance.quiet = True
