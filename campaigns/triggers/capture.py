"""Answers to a question step, stored into the contact: an email address becomes a
validated email identity with consent recorded; a wrong answer is asked again."""

import re

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from campaigns.counters import counters_after_reply
from campaigns.models import Enrollment, Step
from campaigns.triggers.models import MAX_CAPTURE_ATTEMPTS, CaptureRequest
from campaigns.triggers.schedule import enrollment_schedule
from contacts.models import Contact, Identity
from contacts.services import identity_grant_consent
from outreach.models import Message
from outreach.seams import Engagement
from outreach.sending.create import messages_create

E = Enrollment.State
EMAILISH = re.compile(r"[^\s<>()\[\],;:\"']+@[^\s<>()\[\],;:\"']+")


def clean_answer(field: str, text: str, *, country: str = "") -> str | None:
    """The value to store, or None when the answer is not one."""
    text = text.strip()
    if field == "email":
        found = EMAILISH.search(text)
        candidate = found.group(0).rstrip(".!?").lower() if found else ""
        try:
            validate_email(candidate)
        except ValidationError:
            return None
        return candidate
    if field == "phone":
        try:
            number = phonenumbers.parse(text, country.upper() or None)
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_valid_number(number):
            return None
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return text[:255] or None


def capture_answer(*, engagement: Engagement) -> bool:
    """True when this message answered (or failed to answer) an open question."""
    if engagement.message is None:
        return False
    if engagement.new_conversation:
        return False  # a question is asked in a conversation: none was asked in this one
    # No savepoint inside the reply's transaction (two round trips on every reply, and
    # nobody catches a failure here and goes on: it fails the reply's whole transaction).
    with transaction.atomic(savepoint=False):
        request = (
            CaptureRequest.objects.select_for_update()
            .filter(conversation=engagement.conversation, answered_at=None)
            .select_related("enrollment__contact", "step")
            .order_by("-id")
            .first()
        )
        if request is None:
            return False
        contact = request.enrollment.contact
        value = clean_answer(request.field, engagement.text, country=contact.country)
        if value is None:
            _reask(request, engagement)
            return True
        _store(contact, request.field, value, engagement)
        request.answered_at, request.value = timezone.now(), value
        request.save(update_fields=["answered_at", "value"])
        _continue(request, engagement)
    return True


def _store(contact: Contact, field: str, value: str, engagement: Engagement) -> None:
    source = f"gave {field} in {engagement.event.provider} chat"[:100]
    if field in ("email", "phone"):
        identity = Identity.objects.filter(channel=field, value=value).first()
        if identity is None:
            identity = Identity.objects.create(contact=contact, channel=field, value=value)
        if identity.contact_id == contact.id:
            identity_grant_consent(identity=identity, source=source)
            return
        # The address belongs to another contact: keep the answer, leave merging to a rep.
    fields = dict(contact.custom_fields)
    fields[field] = value
    Contact.objects.filter(id=contact.id).update(custom_fields=fields)


def _reask(request: CaptureRequest, engagement: Engagement) -> None:
    request.attempts += 1
    if request.attempts >= MAX_CAPTURE_ATTEMPTS:
        request.answered_at = timezone.now()  # give up asking; the sequence stays stopped
        request.save(update_fields=["attempts", "answered_at"])
        return
    request.save(update_fields=["attempts"])
    options = request.step.options
    conversation = engagement.conversation
    messages_create(
        [
            Message(
                conversation=conversation,
                sender_id=conversation.sender_id,
                channel=conversation.sender.channel,
                direction=Message.Direction.OUTBOUND,
                status=Message.Status.QUEUED,
                body=options.reask_body,
            )
        ]
    )


def _continue(request: CaptureRequest, engagement: Engagement) -> None:
    """The answer was a reply and stopped the sequence; an answered question resumes it."""
    with transaction.atomic():
        enrollment = Enrollment.objects.select_for_update().get(id=request.enrollment_id)
        _resume_after_answer(request, engagement, enrollment)
        if enrollment.state == E.REPLIED and (
            Enrollment.objects.filter(id=enrollment.id).exclude(state=E.REPLIED).exists()
        ):
            counters_after_reply(enrollment_ids=[enrollment.id], sign=-1)
            # No longer a reply: replied_at would count it again (campaigns/counters.py).
            Enrollment.objects.filter(id=enrollment.id).update(replied_at=None, replied_to=None)


def _resume_after_answer(
    request: CaptureRequest, engagement: Engagement, enrollment: Enrollment
) -> None:
    nxt = (
        Step.objects.filter(
            sequence_id=request.step.sequence_id, position__gt=request.step.position
        )
        .order_by("position")
        .first()
    )
    if nxt is None:
        Enrollment.objects.filter(id=enrollment.id).update(
            state=E.COMPLETED, hold_reason=f"answered: {request.field}"
        )
        return
    enrollment_schedule(
        enrollment=enrollment,
        step=nxt,
        previous_at=engagement.at,
        states=(E.REPLIED, E.ACTIVE, E.WAITING),
    )
