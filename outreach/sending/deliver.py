"""Delivering claimed messages: the send task's batch (claim, call the channel backend one
message at a time outside any transaction, record), and the sorting of each backend answer
into sent, not sent, failed or unknown.

Guarantees (docs/reliability.md, "Worker killed mid-task"): the platform is called only after
the send_started mark, which the reconciler's take-back cannot pass; a worker that stalled
after its claim does not send at all; a task that stops early records what went out and puts
back what it never tried; an answer that may hide a send is never retried blindly but marked
unknown ("Ambiguous outcomes and lookups").
"""

import logging
import time

import structlog
from django.conf import settings
from django.db import connection
from django.utils import timezone

from outreach.channels import get_channel
from outreach.channels.base import (
    Ambiguous,
    AuthExpired,
    ChannelError,
    OutgoingMessage,
    Permanent,
    RateLimited,
    RecipientLimited,
    Transient,
)
from outreach.media import attachments_expand
from outreach.models import Message, SenderAccount
from outreach.sending.claim import Claim, claim_batch
from outreach.sending.control import sender_pause
from outreach.sending.record import (
    message_mark_unknown,
    record_failed,
    record_not_sent,
    record_sent_batch,
)

log = logging.getLogger(__name__)
S = Message.Status
MAX_TRANSIENT_ATTEMPTS = 5


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
        sender_esp=message.sender.email_esp,
    )


# Sends that went out are recorded together, but never later than this after the first of
# them: each holds its sender's in-flight slot until then.
RECORD_WITHIN = 1.0


def messages_send(*, message_ids: list[int]) -> dict[int, str]:
    """Send queued messages, each at most once: one claim transaction for the batch, the
    platform calls one by one outside any transaction, one record transaction for the sends
    that went out. Returns each message's status afterwards ("skipped" if not claimed)."""
    statuses: dict[int, str] = dict.fromkeys(message_ids, "skipped")
    statuses.update(claims_send(claim_batch(message_ids)))
    return statuses


def claims_send(claims: list[Claim]) -> dict[int, str]:
    """Call the platform for each claimed message in turn and record the outcomes (see
    messages_send). Returns each message's status afterwards ("skipped" if its claim was
    taken back before the call)."""
    # Start no send past half the task's soft time limit: the last one may take its
    # platform's timeouts beyond it, and the time limit must never cut a send short.
    deadline = time.monotonic() + settings.CELERY_TASK_SOFT_TIME_LIMIT / 2
    statuses: dict[int, str] = {}
    sent: list[tuple[Message, str]] = []
    first_sent, tried = 0.0, 0
    try:
        for claim in claims:
            if time.monotonic() > deadline:
                break
            tried += 1
            # Every log line of this attempt names the message and its sender
            # (LOG_FORMAT=json, config/logs.py).
            with structlog.contextvars.bound_contextvars(
                message_id=claim.message.id,
                sender_id=claim.sender.id,
                channel=claim.message.channel,
            ):
                status, provider_id = _deliver(claim)
                log.info("message send attempt: %s", status)
            statuses[claim.message.id] = status
            if provider_id is not None:
                first_sent = first_sent if sent else time.monotonic()
                sent.append((claim.message, provider_id))
            if sent and time.monotonic() - first_sent >= RECORD_WITHIN:
                record_sent_batch(sent)
                sent = []
    finally:
        # Whatever stopped the loop, what went out is recorded now (not left for the
        # reconciler to ask the platform about), and what was not tried goes back.
        if sent:
            record_sent_batch(sent)
        for claim in claims[tried:]:
            record_not_sent(
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
    assert message.claimed_at is not None  # claim_batch set it
    if (timezone.now() - message.claimed_at).total_seconds() > settings.SEND_GRACE / 3:
        # This worker stalled after its claim. The reconciler may already be checking the
        # message; sending now could race a resend, and not sending is provably safe.
        record_not_sent(
            claim, Transient("claim went stale before sending"), retry_in=None, backoff=False
        )
        return S.QUEUED, None
    request = outgoing(message)  # reads the database: done before the mark
    if not _send_starting(message):
        return "skipped", None  # the reconciler took this claim back: it was too slow
    # The side effect happens outside any transaction, between claim and record.
    try:
        return S.SENT, channel.send(request)
    except RecipientLimited as exc:
        if message.error_code == exc.code:  # it already waited once for this: give up
            record_failed(claim, exc)
            return S.FAILED, None
        record_not_sent(claim, exc, retry_in=exc.retry_after, backoff=False)
        return S.QUEUED, None
    except RateLimited as exc:
        record_not_sent(claim, exc, retry_in=exc.retry_after, backoff=True)
        return S.QUEUED, None
    except AuthExpired as exc:
        record_not_sent(claim, exc, retry_in=None, backoff=False)
        sender_pause(
            sender=sender,
            reason=f"credentials expired: {exc.reason}",
            health=SenderAccount.Health.AUTH_EXPIRED,
        )
        return S.QUEUED, None
    except Transient as exc:
        if message.attempts >= MAX_TRANSIENT_ATTEMPTS:
            record_failed(claim, exc)
            return S.FAILED, None
        record_not_sent(claim, exc, retry_in=2.0**message.attempts * 5, backoff=False)
        return S.QUEUED, None
    except Permanent as exc:
        record_failed(claim, exc)
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
