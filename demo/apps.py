from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo's data and its reply (`make run`, `make demo-reply`): the top layer, which may
    import every product app and which none of them imports."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "demo"
