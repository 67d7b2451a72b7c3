"""Where news from outreach lands. Each receiver calls one service function."""

from django.dispatch import receiver

from campaigns import services
from outreach.models import Message
from outreach.signals import message_received, message_status_changed


@receiver(message_status_changed)
def on_message_status_changed(sender, *, message: Message, status: str, **kwargs) -> None:
    if status == Message.Status.SENT:
        services.enrollment_after_send(message=message)
    elif status in (Message.Status.FAILED, Message.Status.CANCELLED):
        services.enrollment_after_failure(message=message, status=status)


@receiver(message_received)
def on_message_received(sender, *, message: Message, kind: str, **kwargs) -> None:
    services.reply_record(message=message, kind=kind)
