from django.apps import AppConfig
from django.db.models.signals import post_migrate

COUNTERS_MIGRATION = ("campaigns", "0012_dashboard_counters")


def fill_counters_after_upgrade(sender, *, using: str = "default", plan=None, **kwargs) -> None:
    """An install that had campaigns before the dashboard counters existed gets them filled
    once, right after the migration that adds them (a new install has nothing to count)."""
    applied = {(m.app_label, m.name) for m, backwards in plan or () if not backwards}
    if COUNTERS_MIGRATION not in applied:
        return
    from campaigns.counters import counters_rebuild
    from campaigns.models import Enrollment

    if Enrollment.objects.using(using).exists():
        counters_rebuild()


class CampaignsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "campaigns"

    def ready(self) -> None:
        post_migrate.connect(fill_counters_after_upgrade, sender=self)
        from campaigns import (  # noqa: F401
            inbox_hooks,  # the inbox's campaign and deal filters, contact-card sections
            receivers,  # pre_delete of enrollments (counters)
            webhook_receivers,  # the fan-out signals (campaigns/signals.py) -> webhooks
        )

        # After admin autodiscovery (django.contrib.admin is earlier in INSTALLED_APPS).
        from campaigns.security_admin import scope_admin

        scope_admin()
