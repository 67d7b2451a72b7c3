"""/healthz and /readyz, for load balancers and Kubernetes (docs/operations.md).

Neither needs a login, so neither says more than which check failed: no host names,
addresses, URLs or error texts.
"""

from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from campaigns.models import Campaign, Enrollment
from config.celery import app
from core.workers import WorkerBeat

Check = dict[str, object]


@require_GET
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """The process is up and serving requests: touches nothing else."""
    return HttpResponse("ok", content_type="text/plain")


def database_check() -> Check:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"ok": True}


def broker_check() -> Check:
    # A fresh connection, not the publishing pool's: a dead broker must show at once.
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
    return {"ok": True}


def workers_check() -> Check:
    """Every queue of READY_QUEUES has at least one worker that beat recently."""
    fresh = timezone.now() - timedelta(seconds=settings.WORKER_HEARTBEAT_SECONDS * 3)
    alive = set(
        WorkerBeat.objects.filter(beat_at__gte=fresh, queue__in=settings.READY_QUEUES)
        .values_list("queue", flat=True)
        .distinct()
    )
    missing = [q for q in settings.READY_QUEUES if q not in alive]
    return {"ok": not missing, "queues": len(settings.READY_QUEUES), "without_worker": missing}


def dispatcher_lag(now: datetime | None = None) -> float:
    """Seconds the oldest due step of a running campaign has waited for the dispatcher
    (0 when nothing is due): the dispatcher's own due-work query, on its partial index."""
    now = now or timezone.now()
    oldest = (
        Enrollment.objects.filter(
            state=Enrollment.State.ACTIVE,
            next_action_at__lte=now,
            campaign__status=Campaign.Status.RUNNING,
        )
        .order_by("next_action_at")
        .values_list("next_action_at", flat=True)
        .first()
    )
    return max((now - oldest).total_seconds(), 0.0) if oldest else 0.0


def dispatcher_check() -> Check:
    lag = dispatcher_lag()
    limit = settings.READY_DISPATCH_LAG_SECONDS
    return {"ok": lag <= limit, "lag_seconds": round(lag, 1), "limit_seconds": limit}


CHECKS: dict[str, Callable[[], Check]] = {
    "database": database_check,
    "broker": broker_check,
    "workers": workers_check,
    "dispatcher": dispatcher_check,
}


def readiness() -> tuple[bool, dict[str, Check]]:
    results: dict[str, Check] = {}
    for name, check in CHECKS.items():
        try:
            results[name] = check()
        except Exception as exc:  # the kind of failure only: its text may name hosts
            results[name] = {"ok": False, "error": type(exc).__name__}
    return all(r["ok"] for r in results.values()), results


@require_GET
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    ready, checks = readiness()
    failing = [name for name, result in checks.items() if not result["ok"]]
    body = {"status": "ready" if ready else "unready", "failing": failing, "checks": checks}
    return JsonResponse(body, status=200 if ready else 503)
