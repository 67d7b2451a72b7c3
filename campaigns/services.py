"""Campaign workflows: enrol, launch, pause, resume, and stopping sequences on replies."""

import logging
from collections import defaultdict
from datetime import datetime, timedelta

import structlog
from django.db import transaction
from django.db.models import Case, Q, QuerySet, Value, When
from django.utils import timezone

from campaigns import counters, replies
from campaigns.access import campaigns_visible_to
from campaigns.conditions import step_due
from campaigns.lint import campaign_lint
from campaigns.models import Campaign, Enrollment, Step, StepSend
from campaigns.routes import routes_for_steps, step_reroute
from campaigns.triggers import schedule
from campaigns.versions import campaign_templates_freeze
from contacts.access import contacts_visible_to
from contacts.models import Contact, ContactImport
from contacts.services import contact_opt_out
from core.audit import audit_record
from outreach.channels import get_channel
from outreach.media import attachment_problems
from outreach.models import Message

log = logging.getLogger(__name__)
E = Enrollment.State
M = Message.Status
LIVE = [E.ACTIVE, E.WAITING, E.PAUSED]
# A reply that arrives after the sequence ended still answers one of its messages: the last
# step, or the only step of a one-step campaign. Such an enrollment becomes "replied" (what a
# rep expects to see, and what the dashboards, A/B table and reply rates count: see
# campaigns/counters.py), once: an enrollment already "replied" is not counted again.
# "completed" (every step sent) and "failed" (a later step could not be sent; the earlier ones
# went out and can be answered; the failed message keeps its error) end that way. "stopped"
# does not: an opt-out, a bounce, a cancelled message or a rep stopped it, and that reason is
# what the rep must go on seeing; the reply itself is in the inbox all the same.
ANSWERABLE = [E.COMPLETED, E.FAILED]


class LaunchError(Exception):
    """Errors block a launch; warnings alone block it until the rep confirms them."""

    def __init__(self, problems: list[str], warnings: list[str] | None = None) -> None:
        self.problems = problems
        self.warnings = warnings or []
        super().__init__("; ".join(problems or self.warnings))

    @property
    def needs_confirmation(self) -> bool:
        return not self.problems and bool(self.warnings)


def enrollments_create(*, campaign: Campaign, contacts: QuerySet[Contact] | list[Contact]) -> int:
    """Enrol contacts in the order given, each once; contacts already in the campaign are
    left as they are.

    Enrollment ids follow that order, so a capped sender reaches the first contacts listed
    first, as the forecast assumes. (Never a set of ids here: a set of ints iterates in an
    order that depends on the ids' values.)
    """
    now = timezone.now()
    ids = list(
        dict.fromkeys(
            [c.id for c in contacts]
            if isinstance(contacts, list)
            else contacts.values_list("id", flat=True)
        )
    )
    created = 0
    for start in range(0, len(ids), 2000):
        chunk = ids[start : start + 2000]
        with transaction.atomic():
            # One enrolment into a campaign at a time, so "new" is exact for the counters.
            Campaign.objects.select_for_update().filter(id=campaign.id).exists()
            enrolled = set(
                Enrollment.objects.filter(campaign=campaign, contact_id__in=chunk).values_list(
                    "contact_id", flat=True
                )
            )
            chunk = [c for c in chunk if c not in enrolled]
            Enrollment.objects.bulk_create(
                [Enrollment(campaign=campaign, contact_id=c, next_action_at=now) for c in chunk],
                ignore_conflicts=True,
            )
            counters.counters_after_enrol(campaign_id=campaign.id, contact_ids=chunk)
            if chunk:
                campaign_reopen_if_finished(campaign.id)
        created += len(chunk)
    return created


def campaign_reopen_if_finished(campaign_id: int) -> None:
    """A Finished campaign only ran out of people (campaigns/dispatch.py campaigns_finish):
    enrolling more sets it Running again, so the dispatcher reaches them. Called with the
    campaign row locked, as the finishing tick locks it too."""
    if Campaign.objects.filter(id=campaign_id, status=Campaign.Status.FINISHED).update(
        status=Campaign.Status.RUNNING
    ):
        audit_record(
            actor=None, action="campaign.reopen", target=Campaign.objects.get(id=campaign_id)
        )


def campaign_launch_problems(*, campaign: Campaign) -> list[str]:
    return campaign_launch_check(campaign=campaign)[0]


def campaign_launch_check(*, campaign: Campaign) -> tuple[list[str], list[str]]:
    """(errors, warnings) for launching: setup problems plus the template lint."""
    problems = []
    steps = list(Step.objects.filter(sequence=campaign.sequence).select_related("template"))
    if not steps:
        problems.append("The sequence has no steps.")
    sender_channels = set(campaign.senders.values_list("channel", flat=True))
    routes = routes_for_steps(steps)
    for step in steps:
        for route in routes[step.id]:  # the step's own channel, then its alternatives
            where = f"Step {step.position}" + (f" {route.label}" if route.position else "")
            if get_channel(route.channel).automated and route.channel not in sender_channels:
                problems.append(
                    f"{where} sends on {route.channel_name}, "
                    "but the campaign has no sender account for it."
                )
            # Sizes and types each platform accepts (outreach/media.py).
            for problem in attachment_problems(route.channel, route.template.attachments):
                problems.append(f"{where}: {problem}")
    report = campaign_lint(campaign=campaign)
    problems += [i.text for i in report.errors]
    return problems, [i.text for i in report.warnings]


def campaign_launch(*, campaign: Campaign, confirm_warnings: bool = False, actor=None) -> Campaign:
    problems, warnings = campaign_launch_check(campaign=campaign)
    if problems or (warnings and not confirm_warnings):
        raise LaunchError(problems, warnings)
    now = timezone.now()
    with transaction.atomic():
        campaign_templates_freeze(campaign=campaign)
        Campaign.objects.filter(id=campaign.id).update(
            status=Campaign.Status.RUNNING, launched_at=campaign.launched_at or now
        )
        Enrollment.objects.filter(campaign=campaign, state=E.ACTIVE, next_action_at=None).update(
            next_action_at=now
        )
        audit_record(actor=actor, action="campaign.launch", target=campaign)
    campaign.refresh_from_db()
    return campaign


def campaign_pause(*, campaign: Campaign, actor=None) -> Campaign:
    """Queued messages wait as "paused"; one already being sent finishes. No duplicates:
    resuming only flips the same rows back to queued."""
    with transaction.atomic():
        Campaign.objects.filter(id=campaign.id, status=Campaign.Status.RUNNING).update(
            status=Campaign.Status.PAUSED
        )
        StepSend.messages(enrollment__campaign=campaign).filter(status=M.QUEUED).update(
            status=M.PAUSED, hold_reason="campaign paused", enqueued_at=None
        )
        audit_record(actor=actor, action="campaign.pause", target=campaign)
    campaign.refresh_from_db()
    return campaign


def campaign_resume(*, campaign: Campaign, actor=None) -> Campaign:
    with transaction.atomic():
        Campaign.objects.filter(id=campaign.id, status=Campaign.Status.PAUSED).update(
            status=Campaign.Status.RUNNING
        )
        StepSend.messages(enrollment__campaign=campaign, enrollment__state=E.WAITING).filter(
            status=M.PAUSED
        ).update(status=M.QUEUED, hold_reason="")
        audit_record(actor=actor, action="campaign.resume", target=campaign)
    campaign.refresh_from_db()
    return campaign


def enrollment_pause(*, enrollment: Enrollment, actor=None) -> None:
    with transaction.atomic():
        Enrollment.objects.select_for_update().filter(id=enrollment.id).first()
        StepSend.messages(enrollment=enrollment).filter(status=M.QUEUED).update(
            status=M.PAUSED, hold_reason="enrollment paused", enqueued_at=None
        )
        Enrollment.objects.filter(id=enrollment.id, state__in=[E.ACTIVE, E.WAITING]).update(
            state=E.PAUSED, hold_reason="paused by a user"
        )
        audit_record(actor=actor, action="enrollment.pause", target=enrollment)


def enrollment_resume(*, enrollment: Enrollment, actor=None) -> None:
    """While its campaign is paused, a resumed enrollment's message stays held for the
    campaign (campaign_resume sends it): resuming one contact never leaks a send out of a
    paused campaign."""
    with transaction.atomic():
        Enrollment.objects.select_for_update().filter(id=enrollment.id).first()
        # Locked before the messages, so a campaign_pause committing meanwhile is seen here.
        status = (
            Campaign.objects.select_for_update()
            .filter(id=enrollment.campaign_id)
            .values_list("status", flat=True)
            .first()
        )
        held = StepSend.messages(enrollment=enrollment).filter(status=M.PAUSED)
        if status == Campaign.Status.PAUSED:
            waiting = held.update(hold_reason="campaign paused")
        else:
            waiting = held.update(status=M.QUEUED, hold_reason="")
        Enrollment.objects.filter(id=enrollment.id, state=E.PAUSED).update(
            state=E.WAITING if waiting else E.ACTIVE,
            hold_reason="",
            next_action_at=None if waiting else timezone.now(),
        )
        audit_record(actor=actor, action="enrollment.resume", target=enrollment)


def enrollments_stop_for_contact(
    *, contact_id: int, state: str, reason: str, channel: str = ""
) -> int:
    """Stop every live sequence of a contact and cancel their unsent messages, atomically.

    ``channel``: only the sequences with a step on that channel (an opt-out of one channel).
    A reply ends them as "replied" instead (enrollments_replied).

    Rows are locked in id order (enrollment, then message), the order used everywhere.
    A message already being sent cannot be recalled; the send task's claim sees "cancelled"
    for everything else.
    """
    which = Q(state__in=LIVE)
    if channel:
        # A subquery, not a join: FOR UPDATE would lock the joined campaign rows too.
        on_channel = Campaign.objects.filter(sequence__steps__channel=channel).values("id")
        which &= Q(campaign_id__in=on_channel)
    # No savepoint inside a caller's transaction: a failure fails it all.
    with transaction.atomic(savepoint=False):
        ids = list(
            Enrollment.objects.select_for_update()
            .filter(which, contact_id=contact_id)
            .order_by("id")
            .values_list("id", flat=True)
        )
        if not ids:
            return 0
        # replied_at and replied_to stay: an opt-out after a reply keeps the reply counted
        # where it was (campaigns/counters.py).
        Enrollment.objects.filter(id__in=ids).update(
            state=state, next_action_at=None, hold_reason=reason[:200]
        )
        _messages_cancel(ids, reason)
    for eid in ids:
        _log_enrollment(eid, "sequence stopped: %s", state, None)
    return len(ids)


def enrollments_replied(
    *,
    contact_id: int,
    reason: str,
    at: datetime | None,
    answered: StepSend | None,
    quoted: bool,
) -> counters.Replied | None:
    """A contact replied: stop their live sequences as "replied" and cancel their unsent
    messages, atomically, as enrollments_stop_for_contact does; one with an "Always" step
    still ahead goes on for it (campaigns/replies.py).

    ``answered``: the step send the reply answers (reply_answers), whose enrollment becomes
    "replied" also when its sequence had ended (see ANSWERABLE); ``quoted``: the platform
    linked the reply to it, so it counts there (Enrollment.replied_to), not on the last step
    sent.

    Returns the enrollments it made "replied", or None: the caller counts them with the
    reply's label (counters.counters_after_label), which reads the steps sent once for both
    and bumps each counter row once.
    """
    at = at or timezone.now()
    which = Q(state__in=LIVE)
    if answered is not None:
        which |= Q(id=answered.enrollment_id, state__in=ANSWERABLE)
    # Already replied and going on for its "Always" steps: counted once, and goes on.
    which &= ~Q(state__in=LIVE, replied_at__isnull=False)
    quoted_link = answered if quoted else None
    always_ahead, now_always = replies.always_ahead()
    # No savepoint inside the reply's transaction: a failure fails it all.
    with transaction.atomic(savepoint=False):
        # Locked with what the reply needs of them, as they are once locked (the "Always"
        # steps ahead are subqueries: only the enrollment rows are locked).
        rows = list(
            Enrollment.objects.select_for_update()
            .filter(which, contact_id=contact_id)
            .annotate(always_ahead=always_ahead, now_always=now_always)
            .order_by("id")
            .values_list("id", "campaign_id", "state", "always_ahead", "now_always")
        )
        if not rows:
            return None
        going_on = {eid: now for eid, _, state, ahead, now in rows if ahead and state in LIVE}
        ended = [eid for eid, *_ in rows if eid not in going_on]
        counted_on: dict[int, tuple[int, int]] = {}
        replied_to: Case | None = None
        if quoted_link is not None and quoted_link.enrollment_id in ended:
            # The one that answered the quoted step counts there; the others on their last
            # step sent (campaigns/counters.py).
            quoting = quoted_link.enrollment_id
            counted_on[quoting] = (quoted_link.step_id, quoted_link.variant_id or 0)
            replied_to = Case(When(id=quoting, then=Value(quoted_link.id)), default=None)
        Enrollment.objects.filter(id__in=ended).update(
            state=E.REPLIED,
            next_action_at=None,
            hold_reason=reason[:200],
            replied_at=at,
            replied_to=replied_to,
        )
        counted_on |= replies.reply_keep_always(
            going_on,
            at=at,
            reason=reason,
            quoted=quoted_link if quoted_link and quoted_link.enrollment_id in going_on else None,
        )
        _messages_cancel(ended, reason)
    for eid in ended:
        _log_enrollment(eid, "sequence stopped: %s", E.REPLIED, None)
    for eid in going_on:
        _log_enrollment(eid, "replied, only its %s steps go on", '"Always"', None)
    return counters.Replied(
        at=at, campaigns={eid: cid for eid, cid, *_ in rows}, counted_on=counted_on
    )


def _messages_cancel(enrollment_ids: list[int], reason: str) -> None:
    """Their unsent messages: a message already being sent is not recalled."""
    StepSend.messages(enrollment_id__in=enrollment_ids).filter(
        status__in=[M.QUEUED, M.PAUSED]
    ).update(status=M.CANCELLED, hold_reason=reason[:200], enqueued_at=None)


def _log_enrollment(enrollment_id: int, what: str, detail: object, message_id: int | None) -> None:
    # One line per enrolment moved, naming it (LOG_FORMAT=json, config/logs.py): the send's
    # own line names only the message and sender, because outreach knows no enrolments.
    # Written once the move commits: a transaction retried after a lost deadlock
    # (core.db.retry_on_conflict) would otherwise log the same move twice, and one rolled
    # back would log a move that never happened.
    ids = {"enrollment_id": enrollment_id}
    if message_id is not None:
        ids["message_id"] = message_id

    def write() -> None:
        with structlog.contextvars.bound_contextvars(**ids):
            log.info(f"enrolment {what}", detail)

    transaction.on_commit(write)


def enrollments_after_send(*, messages: list[Message]) -> list[StepSend]:
    """These steps' messages went out: schedule each enrollment's next step, or complete its
    sequence. Returns the step links of the campaign messages among them.

    The step links are read once here, for the whole batch, and handed to the counters, to
    the entry triggers' scheduling and back to the caller (the pipelines' contacted stage):
    this runs for every batch of messages sent."""
    by_id = {m.id: m for m in messages}
    links = list(
        StepSend.objects.filter(message_id__in=by_id)
        .select_related("step", "enrollment__contact", "enrollment__campaign")
        .order_by("message_id")
    )
    if not links:
        return links  # not campaign messages (e.g. inbox replies)
    sent_at = {m.id: m.sent_at or timezone.now() for m in messages}
    counters.counters_after_send(links=links, sent_at=sent_at)
    _schedule_next_steps(links, sent_at=sent_at)
    for link in links:
        _log_enrollment(link.enrollment_id, "step %s sent", link.step.position, link.message_id)
    # Once the next steps are scheduled: entry triggers re-time them by their window
    # options and open the captures their steps asked for.
    schedule.after_steps_sent(sent=[(link, by_id[link.message_id]) for link in links])
    return links


def _schedule_next_steps(links: list[StepSend], *, sent_at: dict[int, datetime]) -> None:
    steps: dict[int, list[Step]] = defaultdict(list)
    for step in Step.objects.filter(sequence_id__in={lk.step.sequence_id for lk in links}):
        steps[step.sequence_id].append(step)
    # One UPDATE per (step sent, next step, time sent): a batch sent together is a few.
    moves: dict[tuple[int, Step | None, datetime], list[int]] = defaultdict(list)
    for link in links:
        after = [s for s in steps[link.step.sequence_id] if s.position > link.step.position]
        nxt = min(after, key=lambda s: s.position, default=None)
        moves[(link.step.position, nxt, sent_at[link.message_id])].append(link.enrollment_id)
    for (position, nxt, at), enrollment_ids in moves.items():
        current = Enrollment.objects.filter(
            id__in=enrollment_ids, state=E.WAITING, current_step=position
        )
        if nxt is None:
            # One that replied and went on for its "Always" steps ends as replied.
            current.filter(replied_at=None).update(state=E.COMPLETED, hold_reason="all steps sent")
            current.exclude(replied_at=None).update(
                state=E.REPLIED, hold_reason='replied; its "Always" steps were sent'
            )
            continue
        current.update(
            state=E.ACTIVE,
            current_step=nxt.position,
            next_action_at=step_due(nxt, at),
            hold_reason=f"waiting {humanize_delay(nxt.delay)} after step {position}",
        )


def step_skipped(*, message_id: int, at: datetime) -> None:
    """A rep skipped a step's message (campaigns/manual_tasks.py): the sequence moves on as
    if it had gone out at ``at``, so the next step is due its own delay after that."""
    links = list(StepSend.objects.filter(message_id=message_id).select_related("step"))
    if links:
        _schedule_next_steps(links, sent_at={message_id: at})


def humanize_delay(delay: timedelta) -> str:
    """3 days, 4 hours, 90 seconds: how a rep would say it."""
    seconds = int(delay.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def message_after_requeue(
    *, message: Message, previous: str = "", sent_at: datetime | None = None
) -> None:
    """A send that was in flight came back to the queue (the platform proved it never
    arrived), or a sent one (``sent_at``) soft-bounced and will be sent again. If the contact
    replied or the campaign paused meanwhile, it must not go out."""
    link = StepSend.objects.filter(message_id=message.id).select_related("step").first()
    if link is None:
        return
    # Read under the enrollment's and the campaign's locks: a reply or a pause being applied
    # right now has cancelled or paused the queued messages, not this one (it was on its
    # way), and has not committed. Read without the locks, the enrollment and campaign would
    # still look live and the message would stay queued, to be sent to a contact who
    # replied or in a paused campaign. With them, this waits for that change and sees it.
    # The message is locked first here, against the usual order (enrollment, message), and
    # cannot deadlock for it: a reply's or a pause's update skips a message it sees in
    # flight without waiting for it. "No key" locks leave new rows pointing at the campaign
    # free to be written meanwhile.
    enrollment = (
        Enrollment.objects.select_for_update(no_key=True, of=("self", "campaign"))
        .select_related("campaign", "contact")
        .get(id=link.enrollment_id)
    )
    link.enrollment = enrollment
    if sent_at is not None:
        counters.counters_after_unsend(link=link, sent_at=sent_at, previous=previous)
        # The last step's retry keeps the sequence open until it is sent again; a later
        # step already scheduled keeps its own time.
        Enrollment.objects.filter(
            id=enrollment.id, state=E.COMPLETED, current_step=link.step.position
        ).update(
            state=E.WAITING, hold_reason=f"step {link.step.position}: {message.hold_reason}"[:200]
        )
        enrollment.refresh_from_db()
    if enrollment.state in (E.REPLIED, E.STOPPED, E.COMPLETED, E.FAILED):
        Message.objects.filter(id=message.id, status=M.QUEUED).update(
            status=M.CANCELLED,
            hold_reason=enrollment.hold_reason or enrollment.state,
            enqueued_at=None,
        )
    elif enrollment.state == E.PAUSED or enrollment.campaign.status == Campaign.Status.PAUSED:
        reason = "enrollment paused" if enrollment.state == E.PAUSED else "campaign paused"
        Message.objects.filter(id=message.id, status=M.QUEUED).update(
            status=M.PAUSED, hold_reason=reason, enqueued_at=None
        )


def enrollment_after_failure(
    *, message: Message, status: str, previous: str = "", refused: bool = False
) -> None:
    """``previous``: the status the message had, when it failed after being sent;
    ``refused``: the platform refused it at the send by its messaging rules."""
    link = (
        StepSend.objects.filter(message_id=message.id, rerouted_at=None)
        .select_related("step")
        .first()
    )
    if link is None:
        return
    if status == M.FAILED:
        counters.counters_after_failure(message_id=message.id, previous=previous)
    reason = message.error_reason or message.hold_reason or status
    if status == M.FAILED and (message.error_code == "policy" or refused):
        # Refused and nothing arrived (by the policy gate, the channel's attachment limits, or
        # the platform itself at the send): the step may say to try its next channel instead.
        if step_reroute(message=message, reason=reason) is not None:
            return
        if link.step.on_refused == Step.OnRefused.NEXT_CHANNEL:
            reason += "; no other channel left to try"
    new_state = E.FAILED if status == M.FAILED else E.STOPPED
    hold = f"step {link.step.position}: {reason}"[:200]
    with transaction.atomic():
        ended = Enrollment.objects.filter(id=link.enrollment_id, state__in=LIVE).update(
            state=new_state, next_action_at=None, hold_reason=hold
        )
        if ended:
            # A step sent earlier can fail after the next one was queued (a bounce reported
            # late): the sequence ended, so that next step must not go out either.
            StepSend.messages(enrollment_id=link.enrollment_id).filter(
                status__in=[M.QUEUED, M.PAUSED]
            ).update(status=M.CANCELLED, hold_reason=hold, enqueued_at=None)


def reply_answers(*, message: Message, replies_to: Message | None = None) -> StepSend | None:
    """The campaign step an inbound reply answers.

    The message it replies to, when the platform says (email In-Reply-To/References, a quoted
    DM); a reply to a message that is no step's (a rep's answer in the inbox) answers no step.
    Otherwise the latest step sent to the contact in the reply's conversation, else anywhere
    (a contact emailed by the campaign may answer on another channel)."""
    if replies_to is not None:
        return StepSend.objects.filter(message_id=replies_to.id).first()
    # One query: the reply's own conversation first, then the latest sent.
    here = Case(When(message__conversation_id=message.conversation_id, then=0), default=1)
    return (
        StepSend.objects.filter(
            enrollment__contact_id=message.conversation.identity.contact_id,
            message__sent_at__isnull=False,
        )
        .order_by(here, "-message__sent_at", "-message_id")
        .first()
    )


def reply_record(
    *, message: Message, kind: str, intent: str, replies_to: Message | None = None
) -> counters.Replied | None:
    """An inbound message arrived for a contact, labelled ``intent``: stop their sequences.

    ``replies_to``: our message it answers, when the platform links it. Returns the
    enrollments a reply made "replied", for the caller to count with its label
    (counters.counters_after_label)."""
    contact = message.conversation.identity.contact
    if kind == "reply" and intent == "out_of_office":
        return None  # not a real reply: CampaignEvents.reply_recorded pauses the sequences
    if kind == "reply":
        answered = reply_answers(message=message, replies_to=replies_to)
        return enrollments_replied(
            contact_id=contact.id,
            reason=f"replied on {message.get_channel_display()}",
            at=message.sent_at,
            answered=answered,
            # Linked by the platform: it counts on that step, not the last one sent.
            quoted=replies_to is not None,
        )
    if kind == "opt_out":
        contact_opt_out(contact=contact, source=f"{message.channel} reply")
        enrollments_stop_for_contact(
            contact_id=contact.id, state=E.STOPPED, reason="contact opted out"
        )
    return None


def enrollments_after_import(*, contact_import: ContactImport, contact_ids: list[int]) -> int:
    """Enrol a committed import batch into the campaign its upload form chose ("then"), if
    any; returns how many were enrolled."""
    then = contact_import.hook_options.get("then", "")
    if not then.startswith("campaign:"):
        return 0
    # Checked again as the rows arrive (the upload form offered only visible campaigns, but
    # one may have changed hands since): the importer's campaign, and only the contacts they
    # see (an "update" import also matches existing contacts, which may be another team's).
    user = contact_import.created_by
    campaigns = Campaign.objects.all() if user is None else campaigns_visible_to(user)
    campaign = campaigns.filter(pk=int(then.removeprefix("campaign:"))).first()
    if campaign is None:
        log.warning(
            "import %s: campaign %s is not its creator's; nobody enrolled", contact_import.pk, then
        )
        return 0
    contacts = Contact.objects.all() if user is None else contacts_visible_to(user)
    return enrollments_create(campaign=campaign, contacts=contacts.filter(id__in=contact_ids))
