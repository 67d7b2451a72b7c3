"""A rep's queue of manual steps (LinkedIn, TikTok, Snapchat: no platform lets us send
there; and phone calls): what is due, and the three things a rep does with a task.

It lives in campaigns because two of those answers move sequences: "sent" goes through
outreach's send record (``manual_task_complete``) whose ``messages_sent`` event schedules the
next step, "skip" moves the sequence on here, and "they replied" takes the reply route of an
inbound message (docs/architecture.md, "The reply route").
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.formats import date_format

from campaigns import services
from campaigns.models import Enrollment, Step
from core.audit import audit_record
from outreach.access import manual_tasks_visible_to
from outreach.channels.registry import channels
from outreach.inbox.services import message_classify_new
from outreach.models import ManualTask, Message, MessageEvent
from outreach.seams import ReplyRecorded, outreach_events
from outreach.sending.record import manual_task_complete

M = Message.Status
# A task still open this long after it fell due is flagged overdue.
OVERDUE_AFTER = timedelta(days=1)
# Where a handle (Identity.value, normalized by contacts/normalize.py) is a person's page.
PROFILE_URLS = {
    "linkedin": "https://www.linkedin.com/in/{}/",
    "tiktok": "https://www.tiktok.com/@{}",
    "snapchat": "https://www.snapchat.com/add/{}",
    "phone": "tel:{}",  # E.164, so a phone or a softphone dials it as it is
}


def manual_channels() -> list[tuple[str, str]]:
    """(key, label) of every configured channel a rep works by hand."""
    return [(key, c.label) for key, c in channels().items() if not c.automated]


def manual_tasks_due(user) -> QuerySet[ManualTask]:
    """The user's open tasks (outreach.access scoping), oldest first. A task whose message
    the sequence cancelled (a reply elsewhere, an opt-out) or paused is not due."""
    return (
        manual_tasks_visible_to(user)
        .filter(done_at=None, message__status=M.QUEUED)
        .order_by("message__created_at", "id")
    )


@dataclass(frozen=True)
class TaskCounts:
    due: int
    overdue: int


def manual_task_counts(user, now: datetime) -> TaskCounts:
    """The overview's figures: the user's tasks due now, and how many of them are overdue,
    in one query."""
    counts = manual_tasks_due(user).aggregate(
        due=Count("id"), overdue=Count("id", filter=Q(message__created_at__lt=now - OVERDUE_AFTER))
    )
    return TaskCounts(due=counts["due"], overdue=counts["overdue"])


@dataclass(frozen=True)
class TaskRow:
    task: ManualTask
    profile_url: str
    overdue_for: timedelta | None  # how long past OVERDUE_AFTER; None: not overdue


def task_rows(tasks: QuerySet[ManualTask], now: datetime) -> list[TaskRow]:
    rows = []
    for task in tasks.select_related("message__conversation__identity__contact", "assignee"):
        identity = task.message.conversation.identity
        pattern = PROFILE_URLS.get(identity.channel, "")
        late = now - task.message.created_at
        rows.append(
            TaskRow(
                task=task,
                profile_url=pattern.format(identity.value) if pattern else "",
                overdue_for=late if late > OVERDUE_AFTER else None,
            )
        )
    return rows


def _still_due(task: ManualTask) -> bool:
    """Lock the task's message while it is still due (call inside a transaction): a pause or
    a reply that would hold or cancel it waits, and a task whose message was paused is not
    closed (it comes back when the sequence resumes)."""
    queued = Message.objects.select_for_update().filter(id=task.message_id, status=M.QUEUED)
    if queued.values_list("id", flat=True).first() is None:
        return False
    return ManualTask.objects.filter(id=task.id, done_at=None).exists()


def manual_task_sent(*, task: ManualTask, actor) -> bool:
    """Sent by hand now: recorded like any send, so the next step waits its delay from now.
    False if the task was no longer due."""
    with transaction.atomic():
        if not _still_due(task):
            return False
        manual_task_complete(task=task, actor=actor)
    return True


def manual_task_skip(*, task: ManualTask, actor) -> bool:
    """Not sent: the message is cancelled and the sequence moves on to its next step, due
    that step's delay from now. False if the task was no longer due."""
    now = timezone.now()
    reason = f"skipped by {actor} in the task queue"
    with transaction.atomic():
        if not _still_due(task):
            return False
        ManualTask.objects.filter(id=task.id).update(done_at=now, assignee=actor)
        Message.objects.filter(id=task.message_id).update(
            status=M.CANCELLED, hold_reason=reason[:200], enqueued_at=None
        )
        MessageEvent.objects.create(message_id=task.message_id, status=M.CANCELLED, detail=reason)
        services.step_skipped(message_id=task.message_id, at=now)
        audit_record(actor=actor, action="manual_task.skip", target=task)
    return True


def manual_task_replied(*, task: ManualTask, actor, text: str = "") -> Message | None:
    """The contact answered on the platform: their reply is recorded in the task's
    conversation and takes the route of every inbound reply (labelled, then
    OutreachEvents.reply_recorded: sequences stopped, deal moved, webhooks). None if the task
    was no longer open."""
    source = task.message
    now = timezone.now()
    with transaction.atomic():
        if not ManualTask.objects.filter(id=task.id, done_at=None).update(
            done_at=now, assignee=actor
        ):
            return None
        reply = Message.objects.create(
            conversation=source.conversation,
            sender=source.sender,
            channel=source.channel,
            direction=Message.Direction.INBOUND,
            status=M.RECEIVED,
            body=text.strip() or f"(replied on {source.get_channel_display()})",
            sent_at=now,
        )
        MessageEvent.objects.create(
            message=reply, status=M.RECEIVED, detail=f"recorded by {actor} in the task queue"
        )
        # Recorded just above, in this transaction: it has no label yet to look for.
        intent = message_classify_new(message=reply, kind="reply")
        # No replies_to: the task's own message was never sent, so the reply answers the
        # last step sent to the contact (campaigns.services.reply_answers).
        outreach_events().reply_recorded(
            ReplyRecorded(
                message=reply, kind="reply", intent=intent.label, return_date=intent.return_date
            )
        )
        audit_record(actor=actor, action="manual_task.replied", target=task)
    return reply


def next_step_note(*, task: ManualTask) -> str:
    """What the sequence does next after this task, in words, for the rep who just did it:
    "Next: step 2 (Email), due Mon 7 Dec 2026, 14:05." (empty when nothing follows)."""
    enrollment = Enrollment.objects.filter(sends__message_id=task.message_id).first()
    if enrollment is None or enrollment.state != Enrollment.State.ACTIVE:
        return ""
    step = Step.objects.filter(
        sequence_id=enrollment.campaign.sequence_id, position=enrollment.current_step
    ).first()
    if step is None or enrollment.next_action_at is None:
        return ""
    due = date_format(timezone.localtime(enrollment.next_action_at), "D j M Y, H:i")
    return f"Next: step {step.position} ({step.get_channel_display()}), due {due}."
