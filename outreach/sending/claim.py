"""Claiming a batch of queued messages for sending (T1): lock the messages, then their
senders (then their contacts for the per-contact cap), pass each through the gate, take the
senders' rate-limit tokens and move queued -> sending, all in one short transaction.

Guarantees (docs/reliability.md): the claim is a conditional queued -> sending under row
locks, so a task delivered twice, late or after a restart claims nothing the second time;
locks are taken in one order everywhere (enrollment, message, sender, contact, team cap);
sender limits
hold across any number of workers because the tokens are taken on the locked sender row
(outreach/limits.py).
"""

from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from contacts.models import Contact
from contacts.services import identities_block_reasons
from core.db import retry_on_conflict
from outreach import limits
from outreach.models import Message, MessageEvent, SenderAccount, SendingSwitch
from outreach.sending import claimer
from outreach.sending.gate import hold, refusal
from outreach.sending.provider_limits import provider_cap_hold, provider_caps_load
from outreach.sending.team_limits import team_caps_over

S = Message.Status


@dataclass
class Claim:
    message: Message
    sender: SenderAccount
    day: date


def lock_with_senders(messages) -> list[Message]:
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


def _provider_capped(message: Message, now) -> bool:
    """Hold a message whose recipient's provider had its hourly cap from this sender; the
    sender's other messages still go (the offer skips a message until its not_before)."""
    capped = provider_cap_hold(message, now)
    if capped:
        hold(message, *capped)
    return bool(capped)


def _within_team_caps(messages: list[Message], won: set[int], now) -> list[Message]:
    """Hold the messages over their team's daily cap until the next day, giving back the
    tokens they took (no gap, and the day's unit refunded: nothing was sent)."""
    over = team_caps_over(messages, now)
    for message in messages:
        if message.id in over:
            limits.tokens_release(
                held=[(message.sender, message.id)],
                refund_day=limits.local_day(message.sender, now),
                space=False,
            )
            hold(message, *over[message.id])
            won.discard(message.id)
    return [m for m in messages if m.id not in over]


@retry_on_conflict
def claim_batch(message_ids: list[int]) -> list[Claim]:
    """T1: checks, rate-limit tokens and queued->sending for a batch of messages, all in one
    short transaction. Messages another attempt got first are left out."""
    now = timezone.now()
    with transaction.atomic():
        messages = lock_with_senders(
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
                hold(message, "all sending paused (kill switch)", None)
            return []
        provider_caps_load({m.sender for m in messages})
        blocked = identities_block_reasons([m.conversation.identity for m in messages])
        ready = [
            m
            for m in messages
            if not refusal(m, now, blocked.get(m.conversation.identity_id, ""))
            and not _provider_capped(m, now)
        ]
        won = limits.tokens_take(wanted=[(m.sender, m.id) for m in ready], now=now)
        for message in ready:
            if message.id not in won:
                hold(message, *limits.why_no_token(sender=message.sender, now=now))
        claimed = _within_team_caps([m for m in ready if m.id in won], won, now)
        if not claimed:
            return []
        count = Message.objects.filter(id__in=won, status=S.QUEUED).update(
            status=S.SENDING,
            claimed_at=now,
            attempts=F("attempts") + 1,
            hold_reason="",
            not_before=None,
            send_started=False,
            claimed_by=claimer.this_process(),
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
