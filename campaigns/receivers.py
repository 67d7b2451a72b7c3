"""Where news from outreach lands. Each receiver calls one service function."""

from django.dispatch import receiver

from campaigns import services
from campaigns.routes import message_has_fallback
from contacts.models import Contact
from contacts.signals import contacts_imported, import_choice_providers
from outreach.models import Message
from outreach.signals import message_received, message_status_changed, refusal_fallbacks


@receiver(message_status_changed)
def on_message_status_changed(sender, *, message: Message, status: str, **kwargs) -> None:
    if status == Message.Status.SENT:
        services.enrollment_after_send(message=message)
    elif status in (Message.Status.FAILED, Message.Status.CANCELLED):
        services.enrollment_after_failure(message=message, status=status)
    elif status == Message.Status.QUEUED:
        services.message_after_requeue(message=message)


# A policy refusal fails a step's message at once when the step re-routes it elsewhere.
refusal_fallbacks.append(message_has_fallback)


@receiver(message_received)
def on_message_received(sender, *, message: Message, kind: str, **kwargs) -> None:
    services.reply_record(message=message, kind=kind)


def _import_choices() -> list[tuple[str, str]]:
    from campaigns.models import Campaign

    active = Campaign.objects.exclude(status=Campaign.Status.FINISHED)
    return [(f"campaign:{c.pk}", f"Enrol into campaign: {c.name}") for c in active]


import_choice_providers.append(_import_choices)


@receiver(contacts_imported)
def on_contacts_imported(sender, *, contact_import, contact_ids, **kwargs) -> None:
    from campaigns.models import Campaign

    then = contact_import.hook_options.get("then", "")
    if then.startswith("campaign:"):
        campaign = Campaign.objects.get(pk=int(then.removeprefix("campaign:")))
        services.enrollments_create(
            campaign=campaign, contacts=Contact.objects.filter(id__in=contact_ids)
        )


# Deals, out-of-office pauses and the inbox's campaign filters live in their own modules.
from campaigns import inbox_hooks, pipeline_receivers  # noqa: E402, F401
from campaigns.triggers import receivers as _triggers  # noqa: E402, F401
