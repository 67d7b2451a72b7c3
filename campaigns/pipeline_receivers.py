"""What a labelled reply does in campaigns: deals move, out-of-office pauses, owners assigned."""

from django.dispatch import receiver

from campaigns import pipelines
from campaigns.models import Campaign, Enrollment
from contacts.services import contact_opt_out
from outreach.inbox.services import conversation_assign
from outreach.models import Message
from outreach.signals import message_intent_labelled

REPLIES = ("reply", "opt_out")


@receiver(message_intent_labelled, dispatch_uid="campaigns.pipelines.intent")
def on_intent(sender, *, message: Message, intent: str, kind: str, **kwargs) -> None:
    contact = message.conversation.identity.contact
    corrected = kwargs.get("corrected", False)
    if intent == "out_of_office" and not corrected:
        until = pipelines.absence_end(
            contact=contact,
            return_date=kwargs.get("return_date"),
            received=message.sent_at or message.created_at,
        )
        pipelines.enrollments_pause_until(
            contact_id=contact.id, until=until, reason=f"out of office until {until:%Y-%m-%d}"
        )
        return
    if kind not in REPLIES and not corrected:
        return  # bounces and auto-replies are not a conversation with a lead
    if corrected:
        by = kwargs.get("by")
        # An opt-out is final, so a rep's correction only opts out once they confirmed it.
        if intent == "unsubscribe" and kwargs.get("confirmed"):
            contact_opt_out(
                contact=contact, source="inbox: a rep labelled the reply unsubscribe", actor=by
            )
        pipelines.deal_after_correction(contact=contact, message=message, intent=intent, by=by)
        return
    _assign_to_campaign_owner(message, contact.id)
    pipelines.deal_apply_event(contact=contact, event="reply", message=message)
    if intent == "unsubscribe" and kind != "opt_out":
        contact_opt_out(contact=contact, source=f"{message.channel} reply asked to unsubscribe")
    pipelines.deal_apply_event(contact=contact, event=f"intent:{intent}", message=message)


def _assign_to_campaign_owner(message: Message, contact_id: int) -> None:
    campaign_id = (
        Enrollment.objects.filter(contact_id=contact_id)
        .order_by("-updated_at")
        .values_list("campaign_id", flat=True)
        .first()
    )
    if campaign_id is None:
        return  # in no campaign: no campaign owner
    campaign = Campaign.objects.filter(id=campaign_id).select_related("owner").first()
    owner = campaign.owner if campaign else None
    if owner:
        conversation_assign(conversation=message.conversation, user=owner, only_if_unassigned=True)
