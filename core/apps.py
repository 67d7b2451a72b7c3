from django.apps import AppConfig


class CoreConfig(AppConfig):
    """What every app shares: the audit trail, teams and roles, API plumbing and tokens,
    idempotency keys, the database retry and the confirm-then-act admin helper."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "core"
