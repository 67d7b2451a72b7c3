from django.apps import AppConfig


class OutreachConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "outreach"

    def ready(self) -> None:
        from outreach import checks  # noqa: F401  (registers system checks)
