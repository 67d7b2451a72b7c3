from django.apps import AppConfig


class OutreachConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "outreach"

    def ready(self) -> None:
        from contacts.signals import contact_activity_providers
        from outreach import checks  # noqa: F401  (registers system checks)
        from outreach.inbox import receivers  # noqa: F401  (labels replies with their intent)
        from outreach.selectors import contacts_with_messages

        # An import's rollback asks which contacts have conversations (contacts cannot import
        # outreach); ready() may run twice in tests, so register once.
        if contacts_with_messages not in contact_activity_providers:
            contact_activity_providers.append(contacts_with_messages)
