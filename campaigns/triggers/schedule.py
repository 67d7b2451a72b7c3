"""Steps timed by the messaging window a person's message opened (Meta/WhatsApp: 24 h).

A step may be due some time after the person's last message instead of after the previous
step (e.g. 23 h, just before the window closes), and may say what happens when it would
fall after the window: wait, end the sequence, or switch to the sequence's next email step.
Any reply stops the sequence (campaigns.services.reply_record), so the window cannot move
while the sequence is live and the decision can be taken when the step is scheduled.
"""

from collections import defaultdict
from datetime import datetime

from django.utils import timezone

from campaigns.conditions import step_due
from campaigns.models import Enrollment, Step, StepSend
from campaigns.triggers.models import STANDARD_WINDOW, CaptureRequest, StepOptions
from contacts.models import Identity
from outreach.models import Conversation, Message

E = Enrollment.State
WINDOWED = {"instagram", "messenger", "whatsapp"}


def options_of(step: Step) -> StepOptions | None:
    return StepOptions.objects.filter(step=step).first()


def last_inbound_at(*, enrollment: Enrollment, channel: str) -> datetime | None:
    rows = Conversation.objects.filter(
        identity__contact_id=enrollment.contact_id, identity__channel=channel
    ).exclude(last_inbound_at=None)
    if enrollment.sender_id:
        sticky = rows.filter(sender_id=enrollment.sender_id).first()
        if sticky is not None:
            return sticky.last_inbound_at
    latest = rows.order_by("-last_inbound_at").first()
    return latest.last_inbound_at if latest else None


def enrollment_schedule(
    *, enrollment: Enrollment, step: Step, previous_at: datetime, states=(E.ACTIVE,)
) -> str:
    """Make `step` the enrollment's next step, due by its options; returns the reason shown."""
    options = options_of(step)
    inbound = last_inbound_at(enrollment=enrollment, channel=step.channel)
    due = step_due(step, previous_at)
    if options and options.anchor == StepOptions.Anchor.LAST_INBOUND and inbound:
        due = step_due(step, inbound)
    rows = Enrollment.objects.filter(id=enrollment.id, state__in=states)
    closes = inbound + STANDARD_WINDOW if inbound else None
    window_bound = options and options.when_window_closed != StepOptions.WindowClosed.WAIT
    if window_bound and step.channel in WINDOWED and (closes is None or due >= closes):
        return _window_closed(rows, enrollment, step, options, due)  # type: ignore[arg-type]
    reason = f"step {step.position} due {due:%Y-%m-%d %H:%M} UTC"
    if options and options.anchor == StepOptions.Anchor.LAST_INBOUND and inbound:
        reason += " (inside the messaging window)"
    rows.update(state=E.ACTIVE, current_step=step.position, next_action_at=due, hold_reason=reason)
    return reason


def _window_closed(rows, enrollment: Enrollment, step: Step, options: StepOptions, due) -> str:
    if options.when_window_closed == StepOptions.WindowClosed.EMAIL:
        email_step = (
            Step.objects.filter(
                sequence_id=step.sequence_id, position__gt=step.position, channel="email"
            )
            .order_by("position")
            .first()
        )
        has_email = Identity.objects.filter(
            contact_id=enrollment.contact_id, channel="email", opted_out_at=None
        ).exists()
        if email_step and has_email:
            reason = (
                f"messaging window closed before step {step.position}: "
                f"switched to email (step {email_step.position})"
            )
            rows.update(
                state=E.ACTIVE,
                current_step=email_step.position,
                next_action_at=due,
                hold_reason=reason,
            )
            return reason
        reason = f"messaging window closed before step {step.position}; no email address"
    else:
        reason = f"messaging window closed before step {step.position}"
    rows.update(state=E.COMPLETED, next_action_at=None, hold_reason=reason)
    return reason


def after_steps_sent(*, sent: list[tuple[StepSend, Message]]) -> None:
    """Runs after campaigns scheduled the next steps: re-time them by their window options,
    and open a capture where the sent step asked a question."""
    # One query for the whole batch: most sequences have no step options, and then there is
    # nothing to re-time or capture (this runs for every batch of messages sent).
    options: dict[int, dict[int, StepOptions]] = defaultdict(dict)
    for o in StepOptions.objects.filter(
        step__sequence_id__in={link.step.sequence_id for link, _ in sent}
    ).select_related("step"):
        options[o.step.sequence_id][o.step_id] = o
    for link, message in sent:
        if options.get(link.step.sequence_id):
            _after_step_sent(link, message, options[link.step.sequence_id])


def _after_step_sent(link: StepSend, message: Message, options: dict[int, StepOptions]) -> None:
    sent_options = options.get(link.step_id)
    if sent_options and sent_options.capture_field:
        CaptureRequest.objects.get_or_create(
            enrollment_id=link.enrollment_id,
            step=link.step,
            defaults={
                "conversation_id": message.conversation_id,
                "field": sent_options.capture_field,
            },
        )
    enrollment = Enrollment.objects.filter(id=link.enrollment_id, state=E.ACTIVE).first()
    if enrollment is None:
        return
    nxt = Step.objects.filter(
        sequence_id=link.step.sequence_id, position=enrollment.current_step
    ).first()
    if nxt is not None and nxt.id in options:
        enrollment_schedule(
            enrollment=enrollment, step=nxt, previous_at=message.sent_at or timezone.now()
        )
