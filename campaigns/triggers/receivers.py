"""Where entry triggers hear from outreach. Each receiver calls one service function."""

from django.dispatch import receiver

from campaigns.models import StepSend
from campaigns.signals import steps_sent
from campaigns.triggers import capture, schedule, services
from outreach import engagement as outreach_engagement
from outreach.models import Message
from outreach.signals import engagement_received

# Email to a watched address (leads@…) from an unknown sender becomes a contact in outreach.
outreach_engagement.email_lead_watchers.append(services.email_lead_watched)


@receiver(engagement_received)
def on_engagement(sender, *, engagement, **kwargs) -> None:
    # An answer to an open question is not a new entry.
    if capture.capture_answer(engagement=engagement):
        return
    services.triggers_evaluate(engagement=engagement)


@receiver(steps_sent)
def on_steps_sent(sender, *, sent: list[tuple[StepSend, Message]], **kwargs) -> None:
    # Sent once campaigns scheduled the next steps, so there are steps to re-time.
    schedule.after_steps_sent(sent=sent)
