"""How one message travels: create, offer, claim, send, record; inbound replies."""

import logging
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, F, Min, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from contacts.models import Contact
from contacts.services import identities_block_reasons
from core.audit import audit_record
from core.db import retry_on_conflict
from outreach import limits, policy
from outreach.channels import get_channel
from outreach.channels.base import (
    Ambiguous,
    AuthExpired,
    Bounced,
    ChannelError,
    OutgoingMessage,
    Permanent,
    PolicyContext,
    PolicyWindowClosed,
    RateLimited,
    Transient,
)
from outreach.channels.registry import channels
from outreach.media import attachment_problems, attachments_expand
from outreach.models import (
    Conversation,
    ManualTask,
    Message,
    MessageEvent,
    SenderAccount,
    SendingSwitch,
)
from outreach.seams import MessageFailed, MessageRequeued, outreach_events
from outreach.suppress import SOFT_SEND_CODE, bounce_suppress
from outreach.windows import Window, describe_wait

log = logging.getLogger(__name__)
S = Message.Status
MAX_TRANSIENT_ATTEMPTS = 5


# --- creating -----------------------------------------------------------------------------


def conversations_for(pairs: set[tuple[int, int]]) -> dict[tuple[int, int], Conversation]:
    """Get or create one conversation per (identity_id, sender_id), in bulk."""
    if not pairs:
        return {}

    def fetch(wanted: set[tuple[int, int]]) -> dict[tuple[int, int], Conversation]:
        # Two IN lists and a filter in Python: far cheaper to build and plan than one OR
        # term per pair, and the rows that match an identity and a sender are few.
        rows = Conversation.objects.filter(
            identity_id__in={i for i, _ in wanted}, sender_id__in={s for _, s in wanted}
        )
        return {
            (c.identity_id, c.sender_id): c for c in rows if (c.identity_id, c.sender_id) in wanted
        }

    found = fetch(pairs)
    missing = pairs - found.keys()
    if missing:
        Conversation.objects.bulk_create(
            [Conversation(identity_id=i, sender_id=s) for i, s in missing], ignore_conflicts=True
        )
        found.update(fetch(missing))
    return found


def messages_create(messages: list[Message]) -> list[Message]:
    """Insert queued outbound messages, each with the first entry of its history, in bulk.

    Messages for channels no platform lets us automate get a manual task for a rep.
    """
    manual_channels = {ch for ch in {m.channel for m in messages} if not get_channel(ch).automated}
    for m in messages:
        if m.channel in manual_channels:
            m.hold_reason = MANUAL_HOLD
    created = Message.objects.bulk_create(messages)
    MessageEvent.objects.bulk_create(
        [MessageEvent(message=m, status=m.status, detail=m.hold_reason) for m in created]
    )
    manual = [ManualTask(message=m) for m in created if m.channel in manual_channels]
    if manual:
        ManualTask.objects.bulk_create(manual)
    return created


MANUAL_HOLD = "waiting for a rep to send it by hand"


def _event(message: Message | int, status: str, detail: str = "") -> None:
    mid = message if isinstance(message, int) else message.id
    MessageEvent.objects.create(message_id=mid, status=status, detail=detail[:300])


def _hold(message: Message, reason: str, not_before: datetime | None) -> None:
    Message.objects.filter(id=message.id, status=S.QUEUED).update(
        hold_reason=reason[:200], not_before=not_before, enqueued_at=None
    )


# --- offering (the outbox sweeper) ----------------------------------------------------------


def automated_channels() -> list[str]:
    return [name for name in channels() if get_channel(name).automated]


def messages_offer(*, now: datetime | None = None) -> list[int]:
    """Pick at most one due queued message per free sender and mark it enqueued.

    This is also the sweeper: a queued message whose Celery task was lost (broker restart,
    failed on_commit) is offered again after REQUEUE_AFTER.
    """
    now = now or timezone.now()
    if SendingSwitch.is_paused():
        return []
    stale = now - timedelta(seconds=settings.REQUEUE_AFTER)
    free = list(
        SenderAccount.objects.filter(paused=False, inflight_message_id=None)
        .filter(Q(next_send_at=None) | Q(next_send_at__lte=now))
        .filter(Q(backoff_until=None) | Q(backoff_until__lte=now))
        .values_list("id", flat=True)
    )
    if not free:
        return []
    # The oldest due message of each free sender, in one grouped query; a rep's reply from
    # the inbox goes before the campaign backlog (a lead who wrote is waiting for it).
    firsts = (
        Message.objects.filter(
            sender_id__in=free, status=S.QUEUED, channel__in=automated_channels()
        )
        .filter(Q(not_before=None) | Q(not_before__lte=now))
        .filter(Q(enqueued_at=None) | Q(enqueued_at__lt=stale))
        .order_by()
        .values("sender_id")
        .annotate(first=Min("id"), first_human=Min("id", filter=Q(human_written=True)))
        .values_list("first", "first_human")
    )
    candidates = [human or first for first, human in firsts]
    if not candidates:
        return []
    # Compare-and-set in one statement: of two dispatchers offering at once, each message
    # goes to exactly one (RETURNING says which rows this one won).
    table = Message._meta.db_table
    ids = ", ".join(["%s"] * len(candidates))
    when = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET enqueued_at = %s WHERE id IN ({ids}) AND status = %s"
            " AND (enqueued_at IS NULL OR enqueued_at < %s) RETURNING id",
            [when(now), *candidates, S.QUEUED, when(stale)],
        )
        return sorted(row[0] for row in cursor.fetchall())


# --- sending --------------------------------------------------------------------------------


@dataclass
class Claim:
    message: Message
    sender: SenderAccount
    day: date


def _window_for(message: Message) -> tuple[Window, ZoneInfo]:
    sender = message.sender
    contact_tz = message.conversation.identity.contact.time_zone
    tz = ZoneInfo(contact_tz or sender.time_zone or "UTC")
    return Window(sender.window_days, sender.window_start, sender.window_end, tz), tz


def _contact_cap_hold(message: Message, now: datetime) -> tuple[str, datetime | None]:
    cap = settings.CONTACT_DAILY_MESSAGE_CAP
    if not cap:
        return "", None
    since = now - timedelta(hours=24)
    # Sends in flight count too: another worker's batch may be sending to this contact now.
    recent = list(
        Message.objects.filter(
            conversation__identity__contact_id=message.conversation.identity.contact_id,
            direction=Message.Direction.OUTBOUND,
        )
        .filter(Q(sent_at__gte=since) | Q(status__in=[S.SENDING, S.UNKNOWN], claimed_at__gte=since))
        .annotate(at=Coalesce("sent_at", "claimed_at"))
        .order_by("at")
        .values_list("at", flat=True)[:cap]
    )
    if len(recent) < cap:
        return "", None
    return f"contact already got {cap} message(s) in 24 h", recent[0] + timedelta(hours=24)


def _policy_context(message: Message, now: datetime) -> PolicyContext:
    identity = message.conversation.identity
    return PolicyContext(
        channel=message.channel,
        now=now,
        recipient=identity.value,
        recipient_platform_id=identity.platform_user_id,
        last_inbound_at=message.conversation.last_inbound_at,
        human_written=message.human_written,
        attachments=message.attachments,
        comment_id=message.conversation.comment_id,
        comment_at=message.conversation.comment_at,
        public_reply_to=message.public_reply_to,
        thread_owner=message.conversation.thread_owner,
    )


def _fail_before_send(message: Message, reason: str) -> None:
    """Nothing was sent and nothing can be: fail the message and tell campaigns."""
    Message.objects.filter(id=message.id, status=S.QUEUED).update(
        status=S.FAILED, error_code="policy", error_reason=reason, hold_reason=reason[:200]
    )
    _event(message, S.FAILED, reason)
    message.status, message.error_code, message.error_reason = S.FAILED, "policy", reason
    outreach_events().message_failed(MessageFailed(message))


def _refusal_has_fallback(message: Message) -> bool:
    """A refusal the platform may lift later holds the message, unless whoever queued it
    can send it elsewhere instead (OutreachEvents.refusal_has_fallback)."""
    return outreach_events().refusal_has_fallback(message)


def _refusal(message: Message, now: datetime, blocked: str) -> bool:
    """Hold, cancel or fail a message that may not go now; True if so. The checks run in
    the order analytics.held._waiting_reason explains them."""
    sender = message.sender
    if sender.paused:
        _hold(message, f"sender paused: {sender.paused_reason or 'by a user'}", None)
        return True
    if blocked:
        Message.objects.filter(id=message.id, status=S.QUEUED).update(
            status=S.CANCELLED, hold_reason=blocked[:200]
        )
        _event(message, S.CANCELLED, blocked)
        message.status, message.hold_reason = S.CANCELLED, blocked
        outreach_events().message_cancelled(message)
        return True
    # The sending window keeps automated outreach to human hours; a rep answering a
    # conversation now is a human writing, as in any inbox.
    if not message.human_written:
        window, tz = _window_for(message)
        opens = window.next_open(now)
        if opens > now:
            _hold(message, describe_wait(opens, tz), opens)
            return True
    reason, until = _contact_cap_hold(message, now)
    if reason:
        _hold(message, reason, until)
        return True
    media_problems = attachment_problems(message.channel, message.attachments)
    if media_problems:
        _fail_before_send(message, f"attachment: {'; '.join(media_problems)}"[:1000])
        return True
    decision = get_channel(message.channel).check_policy(_policy_context(message, now))
    if not decision.allowed:
        if decision.retry_at is None or _refusal_has_fallback(message):
            _fail_before_send(message, f"platform policy: {decision.reason}")
        else:
            _hold(message, f"platform policy: {decision.reason}", decision.retry_at)
        return True
    return False


def _lock_with_senders(messages) -> list[Message]:
    """Lock these messages, then their senders, each in id order: the lock order is the same
    everywhere (enrollment, message, sender). Messages of one sender share one sender object,
    so a sender wanted twice sees what the first did to it."""
    locked = list(messages.select_for_update(of=("self",)).order_by("id"))
    # FOR NO KEY UPDATE: the sender's key never changes here, and a plain FOR UPDATE would
    # also block the key-share lock every insert referencing the sender takes (an inbound
    # reply's message), so a reply would wait for this whole transaction, or deadlock.
    senders = SenderAccount.objects.select_for_update(no_key=True).filter(
        id__in={m.sender_id for m in locked}
    )
    by_id = {s.id: s for s in senders.order_by("id")}
    for message in locked:
        message.sender = by_id[message.sender_id]
    return locked


def _one_per_contact(messages: list[Message]) -> list[Message]:
    """For the per-contact cap: lock the contacts (in id order, after their messages), so
    claims for one contact take turns across workers, and keep one message per contact in
    this batch, so each claim sees the one before it. The others are offered again at the
    next tick."""
    contact_ids = {m.conversation.identity.contact_id for m in messages}
    list(Contact.objects.select_for_update().filter(id__in=contact_ids).order_by("id"))
    first: dict[int, Message] = {}
    for message in messages:
        first.setdefault(message.conversation.identity.contact_id, message)
    keep = {m.id for m in first.values()}
    later = [m.id for m in messages if m.id not in keep]
    if later:
        Message.objects.filter(id__in=later, status=S.QUEUED).update(enqueued_at=None)
    return list(first.values())


def _claim(message_id: int) -> Claim | None:
    claims = _claim_batch([message_id])
    return claims[0] if claims else None


@retry_on_conflict
def _claim_batch(message_ids: list[int]) -> list[Claim]:
    """T1: checks, rate-limit tokens and queued->sending for a batch of messages, all in one
    short transaction. Messages another attempt got first are left out."""
    now = timezone.now()
    with transaction.atomic():
        messages = _lock_with_senders(
            Message.objects.select_related("conversation__identity__contact").filter(
                id__in=message_ids, status=S.QUEUED
            )
        )
        # A late or duplicate task may come before a hold's time: the hold stands.
        messages = [m for m in messages if not (m.not_before and m.not_before > now)]
        if settings.CONTACT_DAILY_MESSAGE_CAP:
            messages = _one_per_contact(messages)
        if not messages:
            return []  # duplicate or late delivery: somebody else got there first
        if SendingSwitch.is_paused():
            for message in messages:
                _hold(message, "all sending paused (kill switch)", None)
            return []
        blocked = identities_block_reasons([m.conversation.identity for m in messages])
        ready = [
            m for m in messages if not _refusal(m, now, blocked.get(m.conversation.identity_id, ""))
        ]
        won = limits.tokens_take(wanted=[(m.sender, m.id) for m in ready], now=now)
        for message in ready:
            if message.id not in won:
                _hold(message, *limits.why_no_token(sender=message.sender, now=now))
        claimed = [m for m in ready if m.id in won]
        if not claimed:
            return []
        count = Message.objects.filter(id__in=won, status=S.QUEUED).update(
            status=S.SENDING,
            claimed_at=now,
            attempts=F("attempts") + 1,
            hold_reason="",
            not_before=None,
            send_started=False,
        )
        if count != len(claimed):
            raise AssertionError("messages changed under their row locks")
        for message in claimed:
            message.status, message.claimed_at = S.SENDING, now
            message.attempts += 1
        MessageEvent.objects.bulk_create(
            [
                MessageEvent(message=m, status=S.SENDING, detail=f"attempt {m.attempts}")
                for m in claimed
            ]
        )
        return [
            Claim(message=m, sender=m.sender, day=limits.local_day(m.sender, now)) for m in claimed
        ]


def outgoing(message: Message) -> OutgoingMessage:
    identity = message.conversation.identity
    return OutgoingMessage(
        message_id=message.id,
        idempotency_key=str(message.idempotency_key),
        channel=message.channel,
        sender_handle=message.sender.handle,
        sender_credentials=message.sender.credentials,
        recipient=identity.value,
        recipient_platform_id=identity.platform_user_id,
        body=message.body,
        subject=message.subject,
        body_html=message.body_html,
        attachments=attachments_expand(message.attachments),
        last_inbound_at=message.conversation.last_inbound_at,
        comment_id=message.conversation.comment_id,
        comment_at=message.conversation.comment_at,
        human_written=message.human_written,
        claimed_at=message.claimed_at,
        public_reply_to=message.public_reply_to,
    )


# Sends that went out are recorded together, but never later than this after the first of
# them: each holds its sender's in-flight slot until then.
RECORD_WITHIN = 1.0


def messages_send(*, message_ids: list[int]) -> dict[int, str]:
    """Send queued messages, each at most once: one claim transaction for the batch, the
    platform calls one by one outside any transaction, one record transaction for the sends
    that went out. Returns each message's status afterwards ("skipped" if not claimed)."""
    # Start no send past half the task's soft time limit: the last one may take its
    # platform's timeouts beyond it, and the time limit must never cut a send short.
    deadline = time.monotonic() + settings.CELERY_TASK_SOFT_TIME_LIMIT / 2
    statuses = dict.fromkeys(message_ids, "skipped")
    claims = _claim_batch(message_ids)
    sent: list[tuple[Message, str]] = []
    first_sent, tried = 0.0, 0
    try:
        for claim in claims:
            if time.monotonic() > deadline:
                break
            tried += 1
            status, provider_id = _deliver(claim)
            statuses[claim.message.id] = status
            if provider_id is not None:
                first_sent = first_sent if sent else time.monotonic()
                sent.append((claim.message, provider_id))
            if sent and time.monotonic() - first_sent >= RECORD_WITHIN:
                _record_sent_batch(sent)
                sent = []
    finally:
        # Whatever stopped the loop, what went out is recorded now (not left for the
        # reconciler to ask the platform about), and what was not tried goes back.
        if sent:
            _record_sent_batch(sent)
        for claim in claims[tried:]:
            _record_not_sent(
                claim, Transient("the send task stopped first"), retry_in=None, backoff=False
            )
            statuses[claim.message.id] = S.QUEUED
    return statuses


def message_send(*, message_id: int) -> str:
    """Send one queued message at most once. Returns its status afterwards."""
    return messages_send(message_ids=[message_id])[message_id]


def _deliver(claim: Claim) -> tuple[str, str | None]:
    """Call the platform for one claimed message; record any outcome but success, which the
    caller records with the rest of its batch. Returns (status, provider id if sent)."""
    message, sender = claim.message, claim.sender
    channel = get_channel(message.channel)
    attempt = message.attempts
    assert message.claimed_at is not None  # _claim_batch set it
    if (timezone.now() - message.claimed_at).total_seconds() > settings.SEND_GRACE / 3:
        # This worker stalled after its claim. The reconciler may already be checking the
        # message; sending now could race a resend, and not sending is provably safe.
        _record_not_sent(
            claim, Transient("claim went stale before sending"), retry_in=None, backoff=False
        )
        return S.QUEUED, None
    request = outgoing(message)  # reads the database: done before the mark
    if not _send_starting(message):
        return "skipped", None  # the reconciler took this claim back: it was too slow
    # The side effect happens outside any transaction, between claim and record.
    try:
        return S.SENT, channel.send(request)
    except RateLimited as exc:
        _record_not_sent(claim, exc, retry_in=exc.retry_after, backoff=True)
        return S.QUEUED, None
    except AuthExpired as exc:
        _record_not_sent(claim, exc, retry_in=None, backoff=False)
        sender_pause(
            sender=sender,
            reason=f"credentials expired: {exc.reason}",
            health=SenderAccount.Health.AUTH_EXPIRED,
        )
        return S.QUEUED, None
    except Transient as exc:
        if message.attempts >= MAX_TRANSIENT_ATTEMPTS:
            _record_failed(claim, exc)
            return S.FAILED, None
        _record_not_sent(claim, exc, retry_in=2.0**message.attempts * 5, backoff=False)
        return S.QUEUED, None
    except Permanent as exc:
        _record_failed(claim, exc)
        return S.FAILED, None
    except Exception as exc:  # timeouts after the request went out, 5xx, bugs: ambiguous
        if not isinstance(exc, ChannelError):
            log.exception("send of message %s ended ambiguously", message.id)
        exc = exc if isinstance(exc, Ambiguous) else Ambiguous(str(exc) or type(exc).__name__)
        message_mark_unknown(message_id=message.id, reason=exc.reason, attempt=attempt)
        return S.UNKNOWN, None


def _send_starting(message: Message) -> bool:
    """Mark the claiming attempt as about to call the platform, unless the reconciler took
    the claim back first (the two updates are ordered by the row's lock)."""
    # One plain statement: this runs for every send, and building it through the ORM cost
    # more than the database's work.
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Message._meta.db_table} SET send_started = %s"
            " WHERE id = %s AND status = %s AND attempts = %s AND send_started = %s",
            [True, message.id, S.SENDING, message.attempts, False],
        )
        return cursor.rowcount == 1


def _record_sent_batch(sent: list[tuple[Message, str]]) -> None:
    messages_record_sent(sent=[(m.id, provider_id, m.attempts) for m, provider_id in sent])
    for message, _ in sent:
        _private_reply_used(message)  # it went out, whoever records it


def _private_reply_used(message: Message) -> None:
    """Meta allows one private reply per comment: once it went out, the comment is spent and
    the policy gate holds anything else until the person writes."""
    conversation = message.conversation
    if not conversation.comment_id or message.channel not in ("instagram", "messenger"):
        return
    if message.public_reply_to:
        return  # a public reply under the comment leaves the private reply unused
    route = policy.meta_route(
        now=message.claimed_at or timezone.now(),
        last_inbound_at=conversation.last_inbound_at,
        comment_id=conversation.comment_id,
        comment_at=conversation.comment_at,
        human_written=message.human_written,
    )
    if route == "private_reply":
        Conversation.objects.filter(id=conversation.id, comment_id=conversation.comment_id).update(
            comment_id=""
        )


def _this_attempt(message_id: int, attempt: int | None, statuses: list[str]):
    """Rows this attempt may still change. Fencing by attempt number stops a stalled worker
    from overwriting the outcome of a later attempt the reconciler allowed."""
    rows = Message.objects.filter(id=message_id, status__in=statuses)
    return rows if attempt is None else rows.filter(attempts=attempt)


@retry_on_conflict
def messages_record_sent(*, sent: list[tuple[int, str, int | None]]) -> set[int]:
    """T2 for a batch of (message id, provider id, attempt or None): sent + provider id +
    release the senders + tell campaigns, in one transaction. Returns the ids recorded now;
    a message another attempt already settled is left alone."""
    now = timezone.now()
    wanted = {mid: (provider_id, attempt) for mid, provider_id, attempt in sent}
    with transaction.atomic():
        locked = _lock_with_senders(
            Message.objects.filter(id__in=wanted, status__in=[S.SENDING, S.UNKNOWN])
        )
        # Fencing by attempt number stops a stalled worker from overwriting the outcome of
        # a later attempt the reconciler allowed.
        messages = [m for m in locked if wanted[m.id][1] in (None, m.attempts)]
        if not messages:
            return set()
        provider_ids = {m.id: wanted[m.id][0] for m in messages}
        Message.objects.filter(id__in=provider_ids).update(
            status=S.SENT,
            sent_at=now,
            hold_reason="",
            provider_message_id=Case(
                *[When(id=mid, then=Value(pid)) for mid, pid in provider_ids.items()],
                output_field=Message._meta.get_field("provider_message_id"),
            ),
        )
        for message in messages:
            message.status, message.sent_at, message.hold_reason = S.SENT, now, ""
            message.provider_message_id = provider_ids[message.id]
        limits.tokens_release(held=[(m.sender, m.id) for m in messages])
        Conversation.objects.filter(id__in={m.conversation_id for m in messages}).update(
            last_outbound_at=now
        )
        MessageEvent.objects.bulk_create(
            [
                MessageEvent(message=m, status=S.SENT, detail=m.provider_message_id[:300])
                for m in messages
            ]
        )
        outreach_events().messages_sent(messages)
    return set(provider_ids)


def message_record_sent(
    *, message_id: int, provider_message_id: str, attempt: int | None = None
) -> bool:
    """Record one message as sent (see messages_record_sent); False if already settled."""
    return bool(messages_record_sent(sent=[(message_id, provider_message_id, attempt)]))


@retry_on_conflict
def _record_not_sent(
    claim: Claim, exc: ChannelError, *, retry_in: float | None, backoff: bool
) -> None:
    """The platform proved the message did not go out: back to the queue, cap unit refunded."""
    now = timezone.now()
    not_before = now + timedelta(seconds=retry_in) if retry_in else None
    with transaction.atomic():
        if not _this_attempt(
            claim.message.id, claim.message.attempts, [S.SENDING, S.UNKNOWN]
        ).update(
            status=S.QUEUED,
            not_before=not_before,
            enqueued_at=None,
            error_code=exc.code,
            error_reason=exc.reason[:1000],
            hold_reason=f"retrying after {exc.code}: {exc.reason}"[:200],
        ):
            return
        limits.token_release(
            sender=claim.sender,
            message_id=claim.message.id,
            refund_day=claim.day,
            backoff_until=not_before if backoff else None,
        )
        _event(claim.message, S.QUEUED, f"{exc.code}: {exc.reason}")
        # Campaigns may have stopped or paused while it was in flight: let them hold it.
        outreach_events().message_requeued(MessageRequeued(claim.message))


@retry_on_conflict
def _record_failed(claim: Claim, exc: ChannelError) -> None:
    with transaction.atomic():
        if not _this_attempt(
            claim.message.id, claim.message.attempts, [S.SENDING, S.UNKNOWN]
        ).update(status=S.FAILED, error_code=exc.code, error_reason=exc.reason[:1000]):
            return
        # A rejected message never arrived, so it does not count against the cap.
        limits.token_release(sender=claim.sender, message_id=claim.message.id, refund_day=claim.day)
        _event(claim.message, S.FAILED, f"{exc.code}: {exc.reason}")
        if isinstance(exc, Bounced) or exc.code.startswith(SOFT_SEND_CODE):
            # The address does not exist (or stayed unreachable): never again, anywhere.
            bounce_suppress(
                identity=claim.message.conversation.identity,
                hard=isinstance(exc, Bounced),
                at=timezone.now(),
            )
        claim.message.status, claim.message.error_reason = S.FAILED, exc.reason
        claim.message.error_code = exc.code
        outreach_events().message_failed(
            MessageFailed(claim.message, refused=isinstance(exc, PolicyWindowClosed))
        )


def message_mark_unknown(*, message_id: int, reason: str, attempt: int | None = None) -> None:
    """The outcome is unknown: keep the sender's in-flight slot until the reconciler decides."""
    with transaction.atomic():
        if _this_attempt(message_id, attempt, [S.SENDING]).update(
            status=S.UNKNOWN,
            error_code="ambiguous",
            error_reason=reason[:1000],
            hold_reason="outcome unknown: checking with the platform",
        ):
            _event(message_id, S.UNKNOWN, reason)


def messages_reconcile(*, now: datetime | None = None) -> dict[str, int]:
    """Resolve sends whose outcome was never recorded (crashed worker, timeout). Never resends
    blindly: a message goes back to the queue only when the platform says it never arrived."""
    now = now or timezone.now()
    grace = now - timedelta(seconds=settings.SEND_GRACE)
    counts = {"sent": 0, "requeued": 0, "review": 0}
    stuck = Message.objects.filter(status=S.SENDING, claimed_at__lt=grace)
    for message in stuck.filter(_NOT_STARTED).select_related("sender"):
        counts["requeued"] += _requeue_not_started(message)
    for mid, attempt in stuck.values_list("id", "attempts"):
        message_mark_unknown(
            message_id=mid, reason="worker stopped before recording the outcome", attempt=attempt
        )
    unknown = Message.objects.filter(
        status=S.UNKNOWN, claimed_at__lt=now - timedelta(seconds=min(settings.SEND_GRACE, 30))
    ).select_related("sender", "conversation__identity")
    for message in unknown:
        result = get_channel(message.channel).lookup(outgoing(message))
        if result.found:
            if message_record_sent(
                message_id=message.id, provider_message_id=result.provider_message_id
            ):
                counts["sent"] += 1
        elif result.found is False:
            _requeue_unknown(message)
            counts["requeued"] += 1
        else:
            _send_to_review(message)
            counts["review"] += 1
    return counts


# A claim whose attempt never got as far as calling the platform.
_NOT_STARTED = Q(send_started=False)


def _requeue_not_started(message: Message) -> bool:
    """A worker died after its claim, before calling the platform (the rest of its batch):
    nothing went out, so it goes back to the queue at once. False if it started meanwhile:
    the reconciler then settles it as unknown."""
    rows = Message.objects.filter(
        _NOT_STARTED, id=message.id, status=S.SENDING, attempts=message.attempts
    )
    return _requeue(message, rows, "worker stopped before sending it", "never sent")


def _requeue_unknown(message: Message) -> None:
    rows = Message.objects.filter(id=message.id, status=S.UNKNOWN)
    _requeue(message, rows, "platform confirmed it never arrived", "not at the platform")


@retry_on_conflict
def _requeue(message: Message, rows, why: str, found: str) -> bool:
    """Nothing went out: back to the queue, the sender's cap unit refunded."""
    with transaction.atomic():
        if not rows.update(status=S.QUEUED, enqueued_at=None, hold_reason=why):
            return False
        day = limits.local_day(message.sender, message.claimed_at or timezone.now())
        limits.token_release(sender=message.sender, message_id=message.id, refund_day=day)
        _event(message, S.QUEUED, f"reconciler: {found}, will send again")
        outreach_events().message_requeued(MessageRequeued(message))
    return True


def _send_to_review(message: Message) -> None:
    """The platform cannot tell us: a human decides. The sender moves on to other messages."""
    with transaction.atomic():
        if (
            Message.objects.filter(id=message.id, status=S.UNKNOWN)
            .exclude(hold_reason__startswith="needs review")
            .update(hold_reason="needs review: the platform cannot confirm delivery")
        ):
            limits.token_release(sender=message.sender, message_id=message.id)
            _event(message, S.UNKNOWN, "sent to the review queue")


# --- control ---------------------------------------------------------------------------------


def sender_pause(
    *, sender: SenderAccount, reason: str, health: str | None = None, actor=None
) -> None:
    updates: dict = {"paused": True, "paused_reason": reason[:200]}
    if health:
        updates["health"] = health
        updates["last_error"] = reason[:300]
    SenderAccount.objects.filter(id=sender.id).update(**updates)
    audit_record(actor=actor, action="sender.pause", target=sender, detail=reason)


def sender_resume(*, sender: SenderAccount, actor=None) -> None:
    SenderAccount.objects.filter(id=sender.id).update(
        paused=False, paused_reason="", health=SenderAccount.Health.OK
    )
    Message.objects.filter(
        sender=sender, status=S.QUEUED, hold_reason__startswith="sender paused"
    ).update(hold_reason="")
    audit_record(actor=actor, action="sender.resume", target=sender)


def sending_switch_set(*, paused: bool, reason: str = "", actor=None) -> None:
    SendingSwitch.objects.update_or_create(
        id=1, defaults={"paused": paused, "reason": reason, "changed_by": actor}
    )
    if not paused:
        # Messages the switch held wait for nothing now: offer them again at once.
        Message.objects.filter(
            status=S.QUEUED, hold_reason__startswith="all sending paused"
        ).update(hold_reason="")
    audit_record(actor=actor, action="sending.stop" if paused else "sending.start", detail=reason)


def manual_task_complete(*, task: ManualTask, actor=None) -> None:
    """A rep sent it by hand: record it like any other send, so the sequence moves on."""
    with transaction.atomic():
        if ManualTask.objects.filter(id=task.id, done_at=None).update(
            done_at=timezone.now(), assignee=actor
        ):
            Message.objects.filter(id=task.message_id, status=S.QUEUED).update(status=S.SENDING)
            message_record_sent(
                message_id=task.message_id, provider_message_id=f"manual-{task.message_id}"
            )
