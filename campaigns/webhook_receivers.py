"""Turn internal news into outgoing webhook events. Each receiver builds a small payload."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from campaigns.models import DealStageChange
from campaigns.webhook_models import WebhookEvent
from campaigns.webhooks import webhook_event_emit
from contacts.signals import contact_opted_out
from outreach import signals as outreach_signals
from outreach.models import Message


def _message_data(message: Message) -> dict:
    identity = message.conversation.identity
    return {
        "message_id": message.id,
        "conversation_id": message.conversation_id,
        "contact_id": identity.contact_id,
        "channel": message.channel,
        "direction": message.direction,
        "status": message.status,
    }


@receiver(outreach_signals.message_received)
def on_reply(sender, *, message: Message, kind: str, **kwargs) -> None:
    if kind == "reply":
        data = _message_data(message) | {"subject": message.subject, "body": message.body}
        webhook_event_emit(event=WebhookEvent.REPLY_RECEIVED, data=data)


@receiver(outreach_signals.message_status_changed)
def on_status(sender, *, message: Message, status: str, **kwargs) -> None:
    if status == Message.Status.FAILED:
        data = _message_data(message) | {
            "error_code": message.error_code,
            "error_reason": message.error_reason,
        }
        webhook_event_emit(event=WebhookEvent.MESSAGE_FAILED, data=data)


@receiver(contact_opted_out)
def on_opt_out(sender, *, contact, channel: str = "", source: str = "", **kwargs) -> None:
    data = {"contact_id": contact.id, "channel": channel or None, "source": source}
    webhook_event_emit(event=WebhookEvent.CONTACT_OPTED_OUT, data=data)


@receiver(post_save, sender=DealStageChange)
def on_deal_stage(sender, *, instance: DealStageChange, created: bool, **kwargs) -> None:
    # Every stage move writes one DealStageChange row, whoever makes it.
    if created:
        deal = instance.deal
        data = {
            "deal_id": deal.id,
            "contact_id": deal.contact_id,
            "from_stage": instance.from_stage.name if instance.from_stage else None,
            "to_stage": instance.to_stage.name,
            "to_stage_kind": instance.to_stage.kind,
        }
        webhook_event_emit(event=WebhookEvent.DEAL_STAGE_CHANGED, data=data)


def on_intent(sender, *, message: Message, intent: str = "", **kwargs) -> None:
    data = _message_data(message) | {"intent": intent or kwargs.get("label", "")}
    webhook_event_emit(event=WebhookEvent.INTENT_LABELLED, data=data)


def connect_intent_signal() -> None:
    """Reply intent labels arrive through an outreach signal named like "*intent*"."""
    for name in dir(outreach_signals):
        if "intent" in name:
            getattr(outreach_signals, name).connect(on_intent, dispatch_uid=f"webhooks.{name}")
