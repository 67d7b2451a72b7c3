"""Turn campaigns' fan-out signals (campaigns/signals.py) into outgoing webhook events.

Each receiver builds a small payload; FanOut.fan_out runs it in its own savepoint, so a
failing one never undoes the reply, send or opt-out that sent it. Each is skipped, savepoint
and all, when no active subscriber asked for its event (core/fanout.py wanted_when).
"""

from django.dispatch import receiver

from campaigns import signals
from core.fanout import wanted_when
from outreach.models import Message
from pipelines.models import Deal, DealStageChange
from pipelines.signals import deal_stage_changed
from webhooks.models import WebhookEvent
from webhooks.services import webhook_event_emit, webhook_event_wanted


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


@receiver(signals.reply_received)
@wanted_when(lambda **_: webhook_event_wanted(WebhookEvent.REPLY_RECEIVED))
def on_reply(sender, *, message: Message, **kwargs) -> None:
    data = _message_data(message) | {"subject": message.subject, "body": message.body}
    webhook_event_emit(event=WebhookEvent.REPLY_RECEIVED, data=data)


@receiver(signals.reply_labelled)
@wanted_when(lambda **_: webhook_event_wanted(WebhookEvent.INTENT_LABELLED))
def on_intent(sender, *, message: Message, intent: str, **kwargs) -> None:
    data = _message_data(message) | {"intent": intent}
    webhook_event_emit(event=WebhookEvent.INTENT_LABELLED, data=data)


@receiver(signals.message_failed)
@wanted_when(lambda **_: webhook_event_wanted(WebhookEvent.MESSAGE_FAILED))
def on_failed(sender, *, message: Message, **kwargs) -> None:
    data = _message_data(message) | {
        "error_code": message.error_code,
        "error_reason": message.error_reason,
    }
    webhook_event_emit(event=WebhookEvent.MESSAGE_FAILED, data=data)


@receiver(signals.contact_opted_out)
@wanted_when(lambda **_: webhook_event_wanted(WebhookEvent.CONTACT_OPTED_OUT))
def on_opt_out(sender, *, contact, channel: str = "", source: str = "", **kwargs) -> None:
    data = {"contact_id": contact.id, "channel": channel or None, "source": source}
    webhook_event_emit(event=WebhookEvent.CONTACT_OPTED_OUT, data=data)


@receiver(deal_stage_changed)
@wanted_when(lambda **_: webhook_event_wanted(WebhookEvent.DEAL_STAGE_CHANGED))
def on_deal_stage(sender, *, deal: Deal, change: DealStageChange, **kwargs) -> None:
    data = {
        "deal_id": deal.id,
        "contact_id": deal.contact_id,
        "from_stage": change.from_stage.name if change.from_stage else None,
        "to_stage": change.to_stage.name,
        "to_stage_kind": change.to_stage.kind,
    }
    webhook_event_emit(event=WebhookEvent.DEAL_STAGE_CHANGED, data=data)
