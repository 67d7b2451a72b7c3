"""Where entry triggers hear from outreach. Each receiver calls one service function."""

from django.dispatch import receiver

from campaigns.triggers import capture, schedule, services
from outreach import engagement as outreach_engagement
from outreach.models import Message
from outreach.signals import engagement_received, message_status_changed

# Email to a watched address (leads@…) from an unknown sender becomes a contact in outreach.
outreach_engagement.email_lead_watchers.append(services.email_lead_watched)


@receiver(engagement_received)
def on_engagement(sender, *, engagement, **kwargs) -> None:
    # An answer to an open question is not a new entry.
    if capture.capture_answer(engagement=engagement):
        return
    services.triggers_evaluate(engagement=engagement)


@receiver(message_status_changed)
def on_sent(sender, *, message: Message, status: str, **kwargs) -> None:
    # Connected after campaigns.receivers, so the next step is already scheduled here.
    if status == Message.Status.SENT:
        schedule.after_step_sent(message=message)
