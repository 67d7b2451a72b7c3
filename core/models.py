# Models kept in their own modules; imported here so Django registers them with this app.
from core.api_tokens import ApiToken  # noqa: F401
from core.audit import AuditEntry  # noqa: F401
from core.idempotency import IdempotencyKey  # noqa: F401
from core.teams import Team  # noqa: F401
from core.workers import WorkerBeat  # noqa: F401
