from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "campaigns"

    def ready(self) -> None:
        from campaigns import (
            receivers,  # noqa: F401  (connects to outreach's signal)
            webhook_receivers,
        )

        webhook_receivers.connect_intent_signal()
        # After admin autodiscovery (django.contrib.admin is earlier in INSTALLED_APPS).
        from campaigns.security_admin import scope_admin

        scope_admin()
