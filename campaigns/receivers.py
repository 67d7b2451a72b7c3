"""Where news from outreach lands. Each receiver calls one service function."""

import logging

from django.db.models.signals import pre_delete
from django.dispatch import receiver

from campaigns import counters, services
from campaigns.access import campaigns_visible_to
from campaigns.models import Campaign, Deal, Enrollment
from campaigns.routes import message_has_fallback
from contacts.access import contacts_visible_to
from contacts.channels import CHANNEL_CHOICES
from contacts.models import Contact
from contacts.signals import (
    contact_activity_providers,
    contact_opted_out,
    contacts_imported,
    contacts_opt_out_changed,
    import_choice_providers,
)
from outreach.models import Message
from outreach.signals import (
    message_intent_labelled,
    message_received,
    message_status_changed,
    messages_delivered,
    messages_sent,
    refusal_fallbacks,
)

log = logging.getLogger(__name__)


@receiver(messages_sent)
def on_messages_sent(sender, *, messages: list[Message], **kwargs) -> None:
    services.enrollments_after_send(messages=messages)


@receiver(message_status_changed)
def on_message_status_changed(sender, *, message: Message, status: str, **kwargs) -> None:
    if status in (Message.Status.FAILED, Message.Status.CANCELLED):
        services.enrollment_after_failure(
            message=message,
            status=status,
            previous=kwargs.get("previous", ""),
            refused=kwargs.get("refused", False),
        )
    elif status == Message.Status.QUEUED:
        services.message_after_requeue(
            message=message, previous=kwargs.get("previous", ""), sent_at=kwargs.get("sent_at")
        )


# A policy refusal fails a step's message at once when the step re-routes it elsewhere.
refusal_fallbacks.append(message_has_fallback)


@receiver(message_received)
def on_message_received(sender, *, message: Message, kind: str, **kwargs) -> None:
    # replies_to: our message the inbound one answers (outreach/inbound.py finds it).
    services.reply_record(message=message, kind=kind, replies_to=kwargs.get("replies_to"))


@receiver(messages_delivered, dispatch_uid="campaigns.counters.delivered")
def on_messages_delivered(sender, *, message_ids: list[int], **kwargs) -> None:
    counters.counters_after_delivery(message_ids=message_ids)


@receiver(contacts_opt_out_changed, dispatch_uid="campaigns.counters.opt_out")
def on_opt_out_changed(sender, *, contact_ids: list[int], opted_out: bool, **kwargs) -> None:
    counters.counters_after_opt_out(contact_ids=contact_ids, sign=1 if opted_out else -1)


@receiver(contact_opted_out, dispatch_uid="campaigns.opt_out.stop")
def on_contact_opted_out(sender, *, contact: Contact, channel: str = "", **kwargs) -> None:
    # An opt-out of one channel (a one-click link, a complaint, a blocked bot) stops the
    # sequences that use it at once, not when the dispatcher later refuses their messages.
    # Opting out of every channel is stopped by its callers (campaigns.services.reply_record,
    # campaigns.bulk), which choose the state: a reply that asks to stop still counts as one.
    if channel:
        services.enrollments_stop_for_contact(
            contact_id=contact.id,
            state=Enrollment.State.STOPPED,
            reason=f"contact opted out of {dict(CHANNEL_CHOICES).get(channel, channel)}",
            channel=channel,
        )


@receiver(message_intent_labelled, dispatch_uid="campaigns.counters.intent")
def on_intent_labelled(sender, *, message: Message, intent: str, **kwargs) -> None:
    counters.counters_after_label(
        message=message, label=intent, previous=kwargs.get("previous", "")
    )


# Enrollments are deleted mostly by cascade (a contact deleted, an import rolled back), which
# no service sees: Django sends pre_delete for each before deleting anything, so what they
# count for is still there to be taken away.
@receiver(pre_delete, sender=Enrollment, dispatch_uid="campaigns.counters.delete")
def on_enrollment_delete(sender, *, instance: Enrollment, **kwargs) -> None:
    origin = kwargs.get("origin")
    if isinstance(origin, Campaign) or getattr(origin, "model", None) is Campaign:
        return  # the campaign goes, and its counters with it
    counters.counters_before_delete(enrollment_ids=[instance.id])


def _import_choices(user) -> list[tuple[str, str]]:
    active = campaigns_visible_to(user).exclude(status=Campaign.Status.FINISHED)
    return [(f"campaign:{c.pk}", f"Enrol into campaign: {c.name}") for c in active]


import_choice_providers.append(_import_choices)


def _contacts_in_campaigns(contact_ids) -> dict[str, set[int]]:
    def who(model) -> set[int]:
        rows = model.objects.filter(contact_id__in=contact_ids)
        return set(rows.values_list("contact_id", flat=True).distinct().order_by())

    return {"are enrolled in a campaign": who(Enrollment), "have a deal": who(Deal)}


contact_activity_providers.append(_contacts_in_campaigns)


@receiver(contacts_imported)
def on_contacts_imported(sender, *, contact_import, contact_ids, **kwargs) -> None:

    then = contact_import.hook_options.get("then", "")
    if not then.startswith("campaign:"):
        return
    # Checked again as the rows arrive (the upload form offered only visible campaigns, but
    # one may have changed hands since): the importer's campaign, and only the contacts they
    # see (an "update" import also matches existing contacts, which may be another team's).
    user = contact_import.created_by
    campaigns = Campaign.objects.all() if user is None else campaigns_visible_to(user)
    campaign = campaigns.filter(pk=int(then.removeprefix("campaign:"))).first()
    if campaign is None:
        log.warning(
            "import %s: campaign %s is not its creator's; nobody enrolled", contact_import.pk, then
        )
        return
    contacts = Contact.objects.all() if user is None else contacts_visible_to(user)
    services.enrollments_create(campaign=campaign, contacts=contacts.filter(id__in=contact_ids))


# Deals, out-of-office pauses and the inbox's campaign filters live in their own modules.
from campaigns import inbox_hooks, pipeline_receivers  # noqa: E402, F401
from campaigns.triggers import receivers as _triggers  # noqa: E402, F401
