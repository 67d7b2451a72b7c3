"""The dispatcher: turn due enrollments into queued messages, then offer them for sending.

Safe to run as several replicas at once. On PostgreSQL due rows are claimed with
FOR UPDATE SKIP LOCKED; on SQLite select_for_update is silently a no-op, but IMMEDIATE
transactions make each batch the only writer, and the state compare-and-set below guards
both.
"""

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, NamedTuple

from celery import Task
from django.db import connection, transaction
from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    Exists,
    F,
    Max,
    OuterRef,
    Value,
    When,
)
from django.utils import timezone

from campaigns.conditions import (
    STATUS_CONDITIONS,
    step_condition_unmet,
    step_due,
    step_facts,
)
from campaigns.models import Campaign, Enrollment, Step, StepSend, TemplateVariant
from campaigns.rendering import TemplateError, contact_context, render_message, stable_choice
from campaigns.routes import Route, route_choose, routes_for_steps, routes_tried, skipped_reason
from campaigns.triggers.models import Trigger
from campaigns.variants import variant_pick, variants_for_templates
from campaigns.versions import current_versions
from campaigns.whatsapp_params import filled_body, whatsapp_params, with_waba
from contacts.models import Contact, Identity
from core.audit import audit_record
from core.bulk import rows_insert
from core.db import retry_on_conflict
from outreach import limits
from outreach.models import Message, SenderAccount
from outreach.sending.create import conversation_ids_for, messages_queue
from outreach.sending.offer import messages_offer
from outreach.sending.reconcile import messages_reconcile
from outreach.tasks import send_messages, send_replies

E = Enrollment.State


@dataclass
class TickResult:
    materialized: int = 0
    completed: int = 0
    offered: int = 0
    reconciled: int = 0
    finished: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def dispatch_tick(
    *, now: datetime | None = None, batch: int = 500, max_batches: int = 20
) -> TickResult:
    now = now or timezone.now()
    result = TickResult()
    for _ in range(max_batches):
        made, done = enrollments_materialize(now=now, batch=batch)
        result.materialized += made
        result.completed += done
        if made + done < batch:
            break
    result.offered = offer_and_enqueue(now=now)
    result.reconciled = sum(messages_reconcile(now=now).values())
    result.finished = campaigns_finish()
    return result


# An enrollment in one of these states may still send: its campaign is not finished.
LIVE = (E.ACTIVE, E.WAITING, E.PAUSED)


def campaigns_finish() -> int:
    """Running campaigns whose every enrollment has ended (completed, replied, stopped or
    failed) and that no active entry trigger enrols into become Finished."""
    enrolled = Enrollment.objects.filter(campaign=OuterRef("pk"))
    live = enrolled.filter(state__in=LIVE)  # the enrollment_live index
    fed = Trigger.objects.filter(campaign=OuterRef("pk"), active=True)
    ended = Campaign.objects.filter(Exists(enrolled), status=Campaign.Status.RUNNING).exclude(
        Exists(live) | Exists(fed)
    )
    ids = list(ended.values_list("id", flat=True))
    if not ids:
        return 0
    with transaction.atomic():
        # Enrolling locks the campaign row (campaigns.services.enrollments_create): wait for
        # any enrolment under way, then look again, so a contact just enrolled is not left
        # in a finished campaign.
        list(Campaign.objects.select_for_update().filter(id__in=ids).values_list("id"))
        ids = list(ended.filter(id__in=ids).values_list("id", flat=True))
        Campaign.objects.filter(id__in=ids).update(status=Campaign.Status.FINISHED)
        for campaign in Campaign.objects.filter(id__in=ids):
            audit_record(actor=None, action="campaign.finish", target=campaign)
    return len(ids)


# Messages per send task, at most: each task claims its batch in one transaction and records
# what went out in one more, which is most of what a send costs us.
SEND_BATCH = 20


@retry_on_conflict
def offer_and_enqueue(*, now: datetime) -> int:
    with transaction.atomic():
        offered = messages_offer(now=now)
        # A rep's replies go on the `human` queue, ahead of any campaign backlog.
        human = set(
            Message.objects.filter(id__in=offered, human_written=True).values_list("id", flat=True)
        )
        for task, ids in (
            (send_replies, [i for i in offered if i in human]),
            (send_messages, [i for i in offered if i not in human]),
        ):
            tasks = -(-len(ids) // SEND_BATCH)
            for i in range(tasks):
                # robust: a broker outage must not undo the tick; the sweeper re-offers the
                # messages after REQUEUE_AFTER.
                batch = ids[i::tasks]  # even batches, each of distinct senders
                transaction.on_commit(_publisher(task, batch), robust=True)
    return len(offered)


def _publisher(task: Task, batch: list[int]) -> Callable[[], None]:
    # A named function, not functools.partial: Django 5.2's robust on_commit logs a failing
    # callback by its __qualname__, which a partial lacks, so the AttributeError escaped and
    # cut the tick short (no reconciler, no further publishes) whenever the broker was down.
    def publish_send_batch() -> None:
        task.delay(batch)

    return publish_send_batch


def _pick_sender(
    senders: list[SenderAccount],
    enrollment: Enrollment,
    channel: str,
    load: Counter[int] | None = None,
    remaining: Mapping[int, int] | None = None,
) -> SenderAccount | None:
    """The enrolment's sender on this channel. load: messages already waiting per sender
    (queued, and given out earlier in this batch), counted against what it can send today.
    remaining: what each sender may still send today (limits.remaining_today), when the
    caller worked it out once for many picks; else it is worked out here."""
    if enrollment.sender_id:
        for s in senders:
            if s.id == enrollment.sender_id and s.channel == channel:
                return s
    candidates = sorted((s for s in senders if s.channel == channel), key=lambda s: s.id)
    if not candidates:
        return None
    # The pool: a new contact goes to a sender that can send today (not paused, daily cap
    # not used up), so one paused or full mailbox does not hold a share of the campaign;
    # only when none can does the contact wait for its usual one. Once chosen, the sender
    # is the enrolment's for every follow-up (continuity of the conversation).
    load = load if load is not None else Counter()
    if remaining is None:
        remaining = senders_remaining_today(candidates)
    able = [s for s in candidates if not s.paused and remaining[s.id] > load[s.id]]
    # Rotation that is sticky per contact: the same contact maps to the same account.
    return stable_choice(able or candidates, f"sender:{enrollment.contact_id}")  # type: ignore[arg-type]


def senders_remaining_today(senders: Iterable[SenderAccount]) -> dict[int, int]:
    """limits.remaining_today of each sender, by id, at one instant."""
    now = timezone.now()
    return {s.id: limits.remaining_today(s, now) for s in senders}


def pool_load(sender_ids: set[int]) -> Counter[int]:
    """Queued messages per sender: what it must still send before taking more today."""
    rows = (
        Message.objects.filter(sender_id__in=sender_ids, status=Message.Status.QUEUED)
        .values("sender_id")
        .annotate(n=Count("id"))
        .values_list("sender_id", "n")
    )
    return Counter(dict(rows))


def _pick_variant(
    step: Step, variants: list[TemplateVariant], contact_id: int
) -> TemplateVariant | None:
    return variant_pick(step_id=step.id, variants=variants, contact_id=contact_id)


def _pick_route(
    e: Enrollment,
    step: Step,
    routes: dict[int, list[Route]],
    identities: dict[tuple[int, str], Identity],
    senders: list[SenderAccount],
    tried: dict[tuple[int, int], set[int]],
) -> Route | None:
    """The step's own channel, or the first alternative the contact can be reached on
    (campaigns/routes.py); routes refused before are not tried again."""
    mine = {
        r.channel: identities[(e.contact_id, r.channel)]
        for r in routes[step.id]
        if (e.contact_id, r.channel) in identities
    }
    return route_choose(
        routes[step.id],
        identities=mine,
        sender_channels={s.channel for s in senders},
        tried=tried.get((e.id, step.id), ()),
    )


def last_sends(enrollment_ids: list[int]) -> dict[int, datetime]:
    """When each enrolment last really sent a message (those that sent none are left out):
    the step after a skipped one is timed from it, by the dispatcher and the forecast."""
    if not enrollment_ids:
        return {}
    rows = (
        StepSend.objects.filter(enrollment_id__in=enrollment_ids, message__sent_at__isnull=False)
        .values("enrollment_id")
        .annotate(at=Max("message__sent_at"))
    )
    return {r["enrollment_id"]: r["at"] for r in rows}


def campaigns_lock_running(ids: set[int]) -> set[int]:
    """Those of these campaigns still running, share-locked until the transaction ends.

    A pause updates the campaign row, then pauses its queued messages. Without the lock, a
    batch that read the campaign as running before the pause committed would make its
    messages after the pause's update ran, and they would go out paused or not. FOR SHARE
    makes the pause wait for the batch (and the batch for a pause under way, seeing its
    status once it commits); batches share it, so dispatchers never wait for each other.
    On SQLite the IMMEDIATE transaction already keeps a pause out."""
    if connection.vendor != "postgresql":
        running = Campaign.objects.filter(id__in=ids, status=Campaign.Status.RUNNING)
        return set(running.values_list("id", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {Campaign._meta.db_table} WHERE id = ANY(%s) AND status = %s"
            " ORDER BY id FOR SHARE",
            [sorted(ids), Campaign.Status.RUNNING],
        )
        return {row[0] for row in cursor.fetchall()}


class _Planned(NamedTuple):
    """One message a batch will create, and its step link."""

    enrollment_id: int
    campaign_id: int  # the dashboard finds held messages by it
    step_id: int
    variant_id: int | None
    route: int
    template_version_id: int
    identity_id: int
    sender_id: int
    channel: str
    subject: str
    body: str
    body_html: str
    attachments: list


_MESSAGE_COLUMNS = (
    "sender_id",
    "channel",
    "subject",
    "body",
    "body_html",
    "attachments",
    "campaign_id",
)
_STEP_SEND_COLUMNS = ("enrollment_id", "step_id", "variant_id", "route", "template_version_id")


@retry_on_conflict
def enrollments_materialize(*, now: datetime, batch: int = 500) -> tuple[int, int]:
    """Claim up to `batch` due enrollments and create each one's next message."""
    with transaction.atomic():
        # The running campaigns' ids first, then the claim filtered on them. Joined to the
        # campaigns table (a few rows, perhaps never analyzed), PostgreSQL guessed 667 due
        # rows of 100,000 and hashed the join of every due row before sorting them; on a
        # list of ids it estimates from the enrollments' own statistics (2.3x faster there).
        running = list(
            Campaign.objects.filter(status=Campaign.Status.RUNNING).values_list("id", flat=True)
        )
        if not running:
            return 0, 0
        due = Enrollment.objects.filter(
            state=E.ACTIVE, next_action_at__lte=now, campaign_id__in=running
        ).order_by("next_action_at", "id")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True, of=("self",))
        # Ids only: the claim sorts every due row (LockRows keeps PostgreSQL from a top-N
        # sort), so joining the contacts here would join all of them, not the batch's.
        ids = list(due.values_list("id", flat=True)[:batch])
        if not ids:
            return 0, 0
        # In the claimed order (due time, then id), as the forecast assumes: message ids, and
        # so which contact each sender reaches first, must not depend on where the database
        # happens to keep the rows.
        position = {eid: i for i, eid in enumerate(ids)}
        enrollments = sorted(Enrollment.objects.filter(id__in=ids), key=lambda e: position[e.id])
        # A pause that committed since `running` was read stops this batch too; one still
        # under way waits for it, then pauses what it made.
        batch_campaigns = {e.campaign_id for e in enrollments}
        still = campaigns_lock_running(batch_campaigns)
        if still != batch_campaigns:
            enrollments = [e for e in enrollments if e.campaign_id in still]
            ids = [e.id for e in enrollments]
            if not ids:
                return 0, 0
        # Looked up by their own ids rather than joined: PostgreSQL, misjudging the join,
        # read the whole contacts table to hash it for a batch of 500.
        contacts = Contact.objects.in_bulk({e.contact_id for e in enrollments})
        # One Campaign per campaign, not one per enrollment as select_related would build.
        campaigns = Campaign.objects.in_bulk({e.campaign_id for e in enrollments})
        steps = {
            (s.sequence_id, s.position): s
            for s in Step.objects.filter(
                sequence_id__in={c.sequence_id for c in campaigns.values()}
            ).select_related("template", "whatsapp_template")
        }
        # Each enrollment's current step (None: no step left, the sequence is done).
        step_of = {
            e.id: steps.get((campaigns[e.campaign_id].sequence_id, e.current_step))
            for e in enrollments
        }
        routes = routes_for_steps(steps.values())
        tried = routes_tried(ids)
        templates = {r.template.id: r.template for rs in routes.values() for r in rs}
        variants = variants_for_templates(set(templates))
        # Render from each template's current version, and record which one each message used.
        versions = current_versions(set(templates.values()))
        senders: dict[int, list[SenderAccount]] = defaultdict(list)
        for through in Campaign.senders.through.objects.filter(
            campaign_id__in=campaigns
        ).select_related("senderaccount"):
            senders[through.campaign_id].append(through.senderaccount)
        load = pool_load({s.id for pool in senders.values() for s in pool})
        # Once for the batch, not once per sender for every contact picked.
        remaining = senders_remaining_today(s for pool in senders.values() for s in pool)
        identities: dict[tuple[int, str], Identity] = {}
        for ident in Identity.objects.filter(
            contact_id__in={e.contact_id for e in enrollments}
        ).order_by("-id"):
            identities[(ident.contact_id, ident.channel)] = ident  # oldest wins
        # The last message's status is read only where the step's condition looks at it.
        facts = step_facts(
            enrollments,
            identities,
            statuses_for={
                eid
                for eid, step in step_of.items()
                if step is not None and step.condition in STATUS_CONDITIONS
            },
        )
        handles: dict[int, dict[str, str]] = defaultdict(dict)  # for {{ identities.<channel> }}
        for (cid, ch), ident in identities.items():
            handles[cid][ch] = ident.value

        planned: list[_Planned] = []
        completed, skipped, failed = [], [], []
        sticky: dict[int, list[int]] = defaultdict(list)  # sender id: enrollments new to it
        for e in enrollments:
            campaign = campaigns[e.campaign_id]
            step = step_of[e.id]
            if step is None:
                completed.append(e.id)
                continue
            unmet = step_condition_unmet(step, facts[e.id])
            if unmet:
                skipped.append((e, step, f"skipped step {step.position}: {unmet}"))
                continue
            route = _pick_route(e, step, routes, identities, senders[e.campaign_id], tried)
            if route is None:
                reason = skipped_reason(step, routes[step.id], tried.get((e.id, step.id), ()))
                skipped.append((e, step, reason))
                continue
            channel, identity = route.channel, identities[(e.contact_id, route.channel)]
            sender = _pick_sender(senders[e.campaign_id], e, channel, load, remaining)
            if sender is None:
                failed.append((e, f"campaign has no {route.channel_name} sender"))
                continue
            load[sender.id] += 1
            if e.sender_id is None and sender.channel == channel:
                e.sender_id = sender.id
                sticky[sender.id].append(e.id)
            variant = _pick_variant(step, variants[route.template.id], e.contact_id)
            version = versions[route.template.id]
            subject, body = version.text_for(variant)
            ctx = contact_context(
                contact=contacts[e.contact_id],
                identity=identity,
                sender=sender,
                campaign_name=campaign.name,
                identities=handles[e.contact_id],
            )
            try:
                rendered = render_message(
                    subject=subject,
                    body=body,
                    channel=channel,
                    context=ctx,
                    seed=f"{e.contact_id}:{step.id}",
                )
            except TemplateError as exc:  # edited after launch into something broken
                failed.append((e, f"step {step.position} template: {exc}"))
                continue
            attachments = whatsapp_params(with_waba(version.attachments, route.waba), ctx)
            text = rendered.text
            if route.waba is not None and step.whatsapp_template is not None:
                # The inbox shows the template's text as the contact receives it.
                text = filled_body(step.whatsapp_template, attachments) or text
            planned.append(
                _Planned(
                    enrollment_id=e.id,
                    campaign_id=e.campaign_id,
                    step_id=step.id,
                    variant_id=variant.id if variant is not None else None,
                    route=route.position,
                    template_version_id=version.id,
                    identity_id=identity.id,
                    sender_id=sender.id,
                    channel=channel,
                    subject=rendered.subject,
                    body=text,
                    body_html=rendered.html,
                    attachments=attachments,
                )
            )

        conversations = conversation_ids_for({(p.identity_id, p.sender_id) for p in planned})
        # Columns, not model instances: hundreds of rows a batch (core/bulk.py).
        message_ids = messages_queue(
            {
                "conversation_id": [conversations[(p.identity_id, p.sender_id)] for p in planned],
                **{name: [getattr(p, name) for p in planned] for name in _MESSAGE_COLUMNS},
            }
        )
        rows_insert(
            StepSend,
            {
                "message_id": message_ids,
                **{name: [getattr(p, name) for p in planned] for name in _STEP_SEND_COLUMNS},
            },
            returning=(),
        )
        # The claim and the sticky senders in one UPDATE, where the per-sender UPDATEs
        # were, so each row is written once (the claim used to write every row a first time
        # before anything was read) and the locks come in the same order as before: the
        # rows have been ours since the claiming SELECT FOR UPDATE, so nobody could claim
        # or change them in between, and nothing read in between tells active from waiting.
        # One CASE branch per sender (a few dozen at most), not one per enrollment.
        claim: dict[str, Any] = {"state": E.WAITING, "next_action_at": None, "hold_reason": ""}
        if sticky:
            claim["sender_id"] = Case(
                *(When(id__in=eids, then=Value(sid)) for sid, eids in sorted(sticky.items())),
                default=F("sender_id"),
                output_field=BigIntegerField(),
            )
        Enrollment.objects.filter(id__in=ids, state=E.ACTIVE).update(**claim)
        if completed:
            done = Enrollment.objects.filter(id__in=completed)
            # One that replied and went on for its "Always" steps ends as replied.
            done.filter(replied_at=None).update(state=E.COMPLETED, hold_reason="all steps done")
            done.exclude(replied_at=None).update(
                state=E.REPLIED, hold_reason='replied; its "Always" steps were sent'
            )
        last_sent = last_sends([e.id for e, _, _ in skipped])
        for e, step, reason in skipped:
            # The next step is due its own delay after the last message this enrolment really
            # sent (or after enrolment, if none went out): a skipped step adds no wait of its
            # own, and "a DM, then 2 days later an email" keeps its 2 days for a contact
            # without the step in between (docs/architecture.md).
            nxt = steps.get((campaigns[e.campaign_id].sequence_id, step.position + 1))
            Enrollment.objects.filter(id=e.id).update(
                state=E.ACTIVE,
                current_step=step.position + 1,
                next_action_at=step_due(nxt, last_sent.get(e.id, e.created_at))
                if nxt
                else last_sent.get(e.id, e.created_at),
                hold_reason=reason,
            )
        for e, reason in failed:
            Enrollment.objects.filter(id=e.id).update(state=E.FAILED, hold_reason=reason)
        return len(planned), len(completed)
