"""Evaluating and firing entry triggers for one inbound engagement.

Runs inside the inbound event's processing transaction: a failure leaves the event for the
sweeper, and the unique (trigger, inbound event) row makes the retry (or a redelivered
webhook) a no-op.
"""

import logging

from django.db import IntegrityError, transaction
from django.db.models import F as Col
from django.db.models import Q
from django.utils import timezone

from campaigns.counters import counters_after_enrol
from campaigns.models import Campaign, Enrollment, Step
from campaigns.rendering import (
    TemplateError,
    compile_template,
    contact_context,
    render_message,
    stable_choice,
)
from campaigns.replies import deal_origin
from campaigns.services import campaign_reopen_if_finished
from campaigns.triggers.matching import keyword_matches, keywords_of, pattern_matches
from campaigns.triggers.models import Trigger, TriggerFire
from campaigns.triggers.schedule import enrollment_schedule
from contacts.models import Contact, Tag
from contacts.services import identity_block_reason, identity_grant_consent
from core.teams import Team
from outreach.engagement import EventType
from outreach.models import Conversation, Message, SenderAccount
from outreach.seams import Engagement
from outreach.sending.create import messages_create
from pipelines.models import Stage
from pipelines.services import deal_for_contact, deal_move

F = TriggerFire.Outcome
logger = logging.getLogger(__name__)


def _for_sender(sender: SenderAccount) -> Q:
    """Triggers that may answer from this account: those naming it, and those for "any
    account of the team" of a team its owner belongs to or manages. A shared account (no
    owner) is answered only by triggers naming it, and by old triggers no team could be
    given (migration 0017), which reached every account before: never another team's."""
    if sender.owner_id is None:
        return Q(sender=sender) | Q(sender=None, team=None)
    teams = Team.objects.filter(Q(members=sender.owner_id) | Q(managers=sender.owner_id))
    return Q(sender=sender) | Q(sender=None, team__in=teams)


def triggers_for(engagement: Engagement):
    rows = Trigger.objects.filter(
        active=True, channel=engagement.event.provider, event_type=engagement.event_type
    ).filter(_for_sender(engagement.sender))
    if engagement.event_type == EventType.COMMENT:
        rows = rows.filter(Q(post_id="") | Q(post_id=engagement.post_id))
    if engagement.event_type == EventType.EMAIL:
        rows = rows.filter(address__in=engagement.recipients)
    return rows.order_by("id")


def email_lead_watched(recipients: list[str], sender: SenderAccount) -> bool:
    """Does an active trigger wait for email to one of these addresses (a new lead)?"""
    return (
        Trigger.objects.filter(
            active=True, channel="email", event_type=EventType.EMAIL, address__in=recipients
        )
        .filter(_for_sender(sender))
        .exists()
    )


def trigger_matches(trigger: Trigger, text: str) -> bool:
    if trigger.match == Trigger.Match.ANY:
        return True
    if trigger.match == Trigger.Match.REGEX:
        return pattern_matches(trigger.pattern, text)
    return keyword_matches(text, keywords_of(trigger.keywords))


def triggers_evaluate(*, engagement: Engagement) -> list[TriggerFire]:
    text = engagement.text
    if engagement.event_type == EventType.AD_REFERRAL:
        # Match an ad by its ref or title as well as by what the person typed.
        extra = (engagement.ref, engagement.referral.get("ad_title", ""))
        text = " ".join([text, *extra])
    fires = []
    for trigger in triggers_for(engagement):
        if trigger_matches(trigger, text):
            fire = trigger_fire(trigger=trigger, engagement=engagement)
            if fire is not None:
                fires.append(fire)
    return fires


def _repeat(trigger: Trigger, contact: Contact, engagement: Engagement) -> bool:
    """At most once per person (per post for comments), or once per cooldown period."""
    earlier = TriggerFire.objects.filter(trigger=trigger, contact=contact, outcome=F.FIRED)
    if engagement.event_type == EventType.COMMENT:
        earlier = earlier.filter(post_id=engagement.post_id)
    if trigger.cooldown is not None:
        earlier = earlier.filter(at__gt=timezone.now() - trigger.cooldown)
    return earlier.exists()


def trigger_fire(*, trigger: Trigger, engagement: Engagement) -> TriggerFire | None:
    identity = engagement.identity
    with transaction.atomic():
        # One person at a time: two comments of the same person processed at once by two
        # workers must not both pass the "already fired" check.
        contact = Contact.objects.select_for_update().get(id=identity.contact_id)
        if TriggerFire.objects.filter(trigger=trigger, inbound_event=engagement.event).exists():
            return None
        fire = TriggerFire(
            trigger=trigger,
            inbound_event=engagement.event,
            contact=contact,
            post_id=engagement.post_id,
            outcome=F.FIRED,
            new_lead=contact.created_at >= engagement.event.received_at,
        )
        blocked = identity_block_reason(identity=identity)
        if blocked:
            fire.outcome, fire.detail = F.BLOCKED, blocked[:200]
        elif _repeat(trigger, contact, engagement):
            fire.outcome = F.REPEAT
        elif problem := _reply_problem(trigger):
            # Nothing of the trigger happens (no tag, consent, deal or enrolment without the
            # reply the person asked for); the inbound event is processed as any other.
            logger.warning("trigger %s skipped: %s", trigger.id, problem)
            fire.outcome, fire.detail = F.SKIPPED, problem[:200]
        else:
            _act(trigger, fire, contact, engagement)
        try:
            with transaction.atomic():
                fire.save()
        except IntegrityError:
            return None
    return fire


def _reply_problem(trigger: Trigger) -> str:
    """Why the trigger's replies cannot be rendered, or "". Forms refuse such text
    (Trigger.clean); a row saved before they did may still hold it."""
    for text in [trigger.reply_body, *trigger.public_reply_variants()]:
        try:
            compile_template(text)
        except TemplateError as exc:
            return f"the reply cannot be rendered: {exc}"
    return ""


def _act(trigger: Trigger, fire: TriggerFire, contact: Contact, engagement: Engagement) -> None:
    identity = engagement.identity
    _tag(trigger, contact, engagement)
    if trigger.record_consent and identity.consent_at is None:
        identity_grant_consent(
            identity=identity, source=f"{engagement.event_type} ({trigger.name})"[:100]
        )
    owner_id = _assign_owner(trigger, contact, engagement.conversation)
    if trigger.reply_body:
        fire.reply = _reply(trigger, contact, engagement)
    if trigger.public_replies.strip() and engagement.comment_id:
        fire.public_reply = _public_reply(trigger, contact, engagement)
    if trigger.campaign_id:
        fire.enrollment = _enrol(trigger, contact, engagement)
    if trigger.deal_stage is not None:
        _deal(trigger.deal_stage, contact, owner_id)


def _tag(trigger: Trigger, contact: Contact, engagement: Engagement) -> None:
    tags = list(trigger.tags.all())
    ad = engagement.referral.get("ad_id") or engagement.referral.get("ref")
    if engagement.event_type == EventType.AD_REFERRAL and ad:
        name = f"ad:{ad}"[:100]
        tags.append(Tag.objects.filter(name__iexact=name).first() or Tag.objects.create(name=name))
    if tags:
        contact.tags.add(*tags)


def _assign_owner(trigger: Trigger, contact: Contact, conversation: Conversation) -> int | None:
    """Round robin among the team: the member after the one who got the last lead."""
    if contact.owner_id or trigger.assign_team is None:
        return contact.owner_id
    members = list(trigger.assign_team.members.order_by("id").values_list("id", flat=True))
    if not members:
        return None
    locked = Trigger.objects.select_for_update().get(id=trigger.id)
    after = [m for m in members if locked.last_assigned_id and m > locked.last_assigned_id]
    owner_id = (after or members)[0]
    Trigger.objects.filter(id=trigger.id).update(last_assigned_id=owner_id)
    Contact.objects.filter(id=contact.id).update(owner_id=owner_id)
    Conversation.objects.filter(id=conversation.id, assigned_to=None).update(
        assigned_to_id=owner_id
    )
    contact.owner_id = owner_id
    return owner_id


def _reply(trigger: Trigger, contact: Contact, engagement: Engagement) -> Message | None:
    """Queued like any send: paced by the sender's limiter, checked by the policy gate. On a
    comment the conversation holds the comment id, so Meta's route is the private reply."""
    sender = engagement.sender
    context = contact_context(
        contact=contact, identity=engagement.identity, sender=sender, campaign_name=""
    )
    try:
        rendered = render_message(
            subject="",
            body=trigger.reply_body,
            channel=sender.channel,
            context=context,
            seed=f"trigger:{trigger.id}:{contact.id}",
        )
    except TemplateError:
        return None
    [message] = messages_create(
        [
            Message(
                conversation=engagement.conversation,
                sender=sender,
                channel=sender.channel,
                direction=Message.Direction.OUTBOUND,
                status=Message.Status.QUEUED,
                body=rendered.text,
                body_html=rendered.html,
            )
        ]
    )
    return message


def _public_reply(trigger: Trigger, contact: Contact, engagement: Engagement) -> Message | None:
    """One public reply under the comment, queued like any send (limiter, policy gate, claimed
    once). The unique (channel, public_reply_to) row keeps it to one per comment, whichever
    triggers match."""
    variants = trigger.public_reply_variants()
    comment_id, sender = engagement.comment_id, engagement.sender
    if Message.objects.filter(channel=sender.channel, public_reply_to=comment_id).exists():
        return None
    if trigger.public_reply_order == Trigger.PublicReplyOrder.ROTATE:
        # The row lock of the increment orders concurrent fires: each takes the next turn.
        Trigger.objects.filter(id=trigger.id).update(public_reply_turn=Col("public_reply_turn") + 1)
        turn = Trigger.objects.values_list("public_reply_turn", flat=True).get(id=trigger.id)
        body = variants[(turn - 1) % len(variants)]
    else:
        body = stable_choice(variants, f"public:{trigger.id}:{contact.id}")
    context = contact_context(
        contact=contact, identity=engagement.identity, sender=sender, campaign_name=""
    )
    try:
        rendered = render_message(
            subject="",
            body=body,
            channel=sender.channel,
            context=context,
            seed=f"public:{trigger.id}:{contact.id}",
        )
    except TemplateError:
        return None
    reply = Message(
        conversation=engagement.conversation,
        sender=sender,
        channel=sender.channel,
        direction=Message.Direction.OUTBOUND,
        status=Message.Status.QUEUED,
        body=rendered.text,
        public_reply_to=comment_id,
    )
    try:
        with transaction.atomic():
            [created] = messages_create([reply])
    except IntegrityError:
        return None  # another trigger's public reply to this comment got there first
    return created


def _enrol(trigger: Trigger, contact: Contact, engagement: Engagement) -> Enrollment | None:
    assert trigger.campaign_id is not None  # the caller checked
    with transaction.atomic():
        # Locked as enrollments_create locks it: the finishing tick waits for this enrolment,
        # and a Finished campaign it enrols into runs again (campaigns/services.py).
        campaign = Campaign.objects.select_for_update().get(id=trigger.campaign_id)
        existing = Enrollment.objects.filter(campaign=campaign, contact=contact).first()
        if existing is not None:
            return existing  # already in it: a trigger never restarts a sequence
        enrollment = _enrol_new(trigger, campaign, contact, engagement)
        campaign_reopen_if_finished(campaign.id)
    return enrollment


def _enrol_new(
    trigger: Trigger, campaign: Campaign, contact: Contact, engagement: Engagement
) -> Enrollment:
    step = (
        Step.objects.filter(sequence_id=campaign.sequence_id, position__gte=trigger.start_step)
        .order_by("position")
        .first()
    )
    sticky = campaign.senders.filter(id=engagement.sender.id).exists()
    enrollment = Enrollment.objects.create(
        campaign=campaign,
        contact=contact,
        sender=engagement.sender if sticky else None,
        current_step=step.position if step else trigger.start_step,
        next_action_at=timezone.now(),
        hold_reason=f"enrolled by trigger {trigger.name}"[:200],
    )
    counters_after_enrol(campaign_id=campaign.id, contact_ids=[contact.id])
    if step is not None:
        enrollment_schedule(enrollment=enrollment, step=step, previous_at=engagement.at)
        enrollment.refresh_from_db()
    return enrollment


def _deal(stage: Stage, contact: Contact, owner_id: int | None) -> None:
    deal = deal_for_contact(
        contact=contact, pipeline=stage.pipeline, origin=deal_origin(contact.id)
    )
    if deal is None:
        return
    if owner_id and deal.owner_id is None:
        type(deal).objects.filter(id=deal.id).update(owner_id=owner_id)
    if deal.stage.kind == Stage.Kind.OPEN and deal.stage_id != stage.id:
        deal_move(deal=deal, stage=stage, reason="entry trigger")
