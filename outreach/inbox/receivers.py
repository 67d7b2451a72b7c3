"""Label every inbound reply as it is recorded (inside the recording transaction)."""

from django.dispatch import receiver

from outreach.inbox.services import message_classify
from outreach.models import Message
from outreach.signals import message_received


@receiver(message_received, dispatch_uid="outreach.inbox.classify")
def on_message_received(sender, *, message: Message, kind: str, **kwargs) -> None:
    message_classify(message=message, kind=kind)
