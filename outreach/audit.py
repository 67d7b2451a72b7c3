"""The audit trail: one plain function every service calls after it changed something."""

from django.db import models

from outreach.models import AuditEntry


def audit_record(
    *, actor, action: str, target: models.Model | None = None, detail: str = ""
) -> AuditEntry:
    """actor may be None (system, Celery) or an anonymous user; both are stored as "system"."""
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    return AuditEntry.objects.create(
        actor=actor,
        action=action,
        target_type=(target._meta.model_name or "") if target is not None else "",
        target_id=target.pk if target is not None else None,
        target_repr=str(target)[:200] if target is not None else "",
        detail=detail[:300],
    )
