"""The audit trail: the AuditEntry row and one plain function every service calls after it
changed something."""

from django.conf import settings
from django.db import models


class AuditEntry(models.Model):
    """Who launched, paused or changed what, written by the service functions.

    Kept in core, the lowest app, because every app's services write it (outreach's sender
    pause and kill switch, campaigns' launches and edits). The target is a label and an id,
    not a foreign key, so the trail survives the deletion of what it describes.
    """

    at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    action = models.CharField(max_length=50, help_text="e.g. campaign.launch, sender.pause")
    target_type = models.CharField(max_length=50, blank=True)
    target_id = models.BigIntegerField(null=True, blank=True)
    target_repr = models.CharField(max_length=200, blank=True)
    detail = models.CharField(max_length=300, blank=True)

    class Meta:
        db_table = "outreach_auditentry"  # made by outreach before core existed
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [
            # "What happened to this campaign/sender": the dashboard's history panel.
            models.Index(fields=["target_type", "target_id", "-at"], name="audit_target"),
        ]

    def __str__(self) -> str:
        who = self.actor or "system"
        return f"{who} {self.action} {self.target_repr}".strip()


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
