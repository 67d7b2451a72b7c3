"""A stateful model of the sequence engine, in-process against the real models and database.

Hypothesis drives the real dispatcher and send path through duplicate, dropped and late task
deliveries, workers killed after their claim and after the platform accepted a send,
reconciler runs, replies, campaign pause/resume and clock jumps. The "broker" carries what the
dispatcher really publishes: the `send_messages` batches `campaigns.dispatch` hands to
`transaction.on_commit`; delivering one runs that task as a worker would. The platforms are
in memory: the real channels (their Message-IDs, their webhook parsers) with only the network
call replaced.

The contacts write back the production way: signed webhook bytes in each platform's own shape
(Telegram updates, raw mail to the inbound-email webhook, Instagram's messaging webhook) posted
to the real endpoint, then each stored event processed by the function the Celery task runs
(`inbound.process.inbound_event_process`). They reply, edit, unsend, bounce, unsubscribe in a
subject line, and the platform delivers the same event twice or slips a poison mail between
two good ones. After every step the promises users rely on are checked; after a quiet period
every due step must have ended sent, cancelled or flagged for review.

The clock is Django's `timezone.now`, replaced by a settable one for the test: the services
read the time there (the claim, recording and token release take no `now=` argument).
"""

import inspect
import json
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from itertools import count
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.db import connection, transaction
from django.db.models import Count, Max, Q
from django.test import Client, TestCase
from django.utils import timezone
from hypothesis import HealthCheck
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from campaigns.counters import FIELDS, live_day_stats
from campaigns.dispatch import dispatch_tick
from campaigns.models import CampaignDayStats, Enrollment, Step, StepSend
from campaigns.services import (
    campaign_launch,
    campaign_pause,
    campaign_resume,
    enrollments_create,
)
from contacts.models import Identity
from contacts.services import suppressions_matching
from outreach import limits
from outreach.channels import locmem
from outreach.channels.base import LookupResult, OutgoingMessage
from outreach.channels.email.backend import EmailChannel, message_id_for
from outreach.channels.telegram.backend import TelegramChannel
from outreach.models import InboundEvent, Message, MessageEvent, SenderAccount
from outreach.sending.reconcile import messages_reconcile as reconcile
from outreach.tasks import send_messages
from tests import factories
from tests.channels.conftest import SECRETS
from tests.channels.helpers import post_webhook, process_all, signed_headers

E = Enrollment.State
M = Message.Status
START = datetime(2025, 6, 6, 13, 0, tzinfo=UTC)  # a Friday afternoon in Europe
ZONES = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "Pacific/Auckland"]
TERMINAL = {E.COMPLETED, E.REPLIED, E.STOPPED, E.FAILED}
IG_ACCOUNT = "17841400000000001"  # our Instagram account's id, as Meta names it

# Found by this model, fixed in campaigns.services.message_after_requeue: a send in flight
# (sending or unknown) when the contact replied or the campaign was paused went back to
# "queued" once the reconciler proved the platform never got it, and was then claimed and
# sent anyway. The named scenarios at the end pin it down; the switch below lets the random
# model tolerate exactly that case again should it ever need to (keep it False).
TOLERATE_INFLIGHT_REQUEUE_BUG = False


# --- the worker dying, and the platforms in memory ---------------------------------------------


class WorkerKilled(BaseException):
    """The worker process died here (SIGKILL, out of memory). A BaseException, so no `except
    Exception` in the send path handles it; the model then undoes whatever the task's
    `finally` blocks wrote after this instant (see Crash), as a dead process writes nothing."""


class Crash:
    """Where the worker delivering the next batch dies: `claimed` (after its claim committed,
    before it marks its first send as started) or `accepted` (right after the platform
    accepted a send the predicate picks). The database keeps what was written before that
    instant: a savepoint is taken there and rolled back to once the task has unwound."""

    def __init__(self) -> None:
        self.when: str = ""
        self.pick = lambda message_id, n: False
        self.savepoint: str | None = None
        self.accepted = 0

    def arm(self, when: str, pick=lambda message_id, n: n == 0) -> None:
        self.when, self.pick, self.savepoint, self.accepted = when, pick, None, 0

    def disarm(self) -> None:
        self.when = ""

    def die(self) -> None:
        self.savepoint = transaction.savepoint()
        self.when = ""
        raise WorkerKilled()

    def after_accept(self, message_id: int) -> None:
        if self.when == "accepted":
            n, self.accepted = self.accepted, self.accepted + 1
            if self.pick(message_id, n):
                self.die()

    def before_statement(self, execute, sql, params, many, context):
        # outreach.sending.deliver._send_starting: the first statement after the claim committed.
        if self.when == "claimed" and "SET send_started" in sql:
            self.die()
        return execute(sql, params, many, context)


CRASH = Crash()


class ModelEmail(EmailChannel):
    """The real email channel (its Message-IDs, threading, inbound-mail parser) handing mail
    to Django's in-memory mail backend: a mail server that can say whether a message
    arrived, so the reconciler can prove delivery or non-delivery."""

    def send(self, message: OutgoingMessage) -> str:
        provider_id = super().send(message)
        locmem.outbox.append(message)
        CRASH.after_accept(message.message_id)
        return provider_id

    def lookup(self, message: OutgoingMessage) -> LookupResult:
        msgid = message_id_for(message.idempotency_key, message.sender_handle)
        if any(m.extra_headers.get("Message-ID") == msgid for m in mail.outbox):
            return LookupResult(found=True, provider_message_id=msgid)
        return LookupResult(found=False)


class ModelTelegram(TelegramChannel):
    """The real Telegram channel with the Bot API in memory: it cannot look a send up."""

    message_ids = count(1000)

    def _call(self, message: OutgoingMessage, method: str, payload: dict) -> str:
        locmem.outbox.append(message)
        provider_id = f"{payload['chat_id']}:{next(self.message_ids)}"
        CRASH.after_accept(message.message_id)
        return provider_id


def channels_for_the_model() -> dict:
    channels = {name: dict(conf) for name, conf in django_settings.OUTREACH_CHANNELS.items()}
    channels["email"] = {
        "BACKEND": f"{__name__}.ModelEmail",
        "OPTIONS": {"webhook_secret": SECRETS["email"]},
    }
    channels["telegram"] = {
        "BACKEND": f"{__name__}.ModelTelegram",
        "OPTIONS": {"secret_token": SECRETS["telegram"]},
    }
    channels["instagram"] = {
        "BACKEND": "outreach.channels.meta.backend.InstagramChannel",
        "OPTIONS": {"app_secret": SECRETS["meta"], "verify_token": "verify-me"},
    }
    return channels


class Clock:
    def __init__(self) -> None:
        self.at = START

    def now(self) -> datetime:
        return self.at


CLOCK = Clock()
task_index = st.integers(min_value=0, max_value=10_000)
contact_index = st.integers(0, len(ZONES) - 1)


def _nonzero(counts: dict) -> dict:
    return {k: {f: n for f, n in c.items() if n} for k, c in counts.items() if any(c.values())}


# --- what the contacts' platforms post -----------------------------------------------------------


def _mail(
    *, frm: str, to: str, subject: str, body: str, msgid: str, answers: str = "", extra: str = ""
) -> bytes:
    """A plain-text mail as a mail server hands it to the inbound-email webhook."""
    threading = f"In-Reply-To: {answers}\nReferences: {answers}\n" if answers else ""
    head = (
        f"From: {frm}\nTo: {to}\nSubject: {subject}\n"
        f"Date: {CLOCK.now().strftime('%a, %d %b %Y %H:%M:%S +0000')}\n"
        f"Message-ID: {msgid}\n{threading}{extra}MIME-Version: 1.0\n"
    )
    return (
        head + "Content-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: quoted-printable\n\n" + body + "\n"
    ).encode()


def _dsn(*, mailbox: str, recipient: str, ours: str, n: int) -> bytes:
    """A Postfix hard bounce (RFC 3464 delivery status, our original's headers returned)."""
    return (
        f"From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\n"
        f"To: {mailbox}\nSubject: Undelivered Mail Returned to Sender\n"
        f"Date: {CLOCK.now().strftime('%a, %d %b %Y %H:%M:%S +0000')}\n"
        f"Message-ID: <bounce-{n}@mx.example.net>\nAuto-Submitted: auto-replied\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="BND"\n\n'
        "--BND\nContent-Type: text/plain; charset=us-ascii\n\n"
        "I'm sorry to have to inform you that your message could not\n"
        "be delivered to one or more recipients.\n\n"
        f"<{recipient}>: host mx.example.net said: 550 5.1.1 <{recipient}>:\n"
        "    Recipient address rejected: User unknown in virtual mailbox table\n\n"
        "--BND\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.example.net\n\n"
        f"Final-Recipient: rfc822; {recipient}\nOriginal-Recipient: rfc822;{recipient}\n"
        "Action: failed\nStatus: 5.1.1\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected\n\n"
        "--BND\nContent-Type: text/rfc822-headers\n\n"
        f"From: {mailbox}\nTo: {recipient}\nSubject: Hello\nMessage-ID: {ours}\n\n"
        "--BND--\n"
    ).encode()


# A mail no codec can read ("unknown-8bit" is what some MTAs write): the webhook must take it
# with a 2xx and quarantine it, and the mail behind it must still land.
POISON = (
    b"From: Old Client <old@client.example>\nTo: e1@example.com\nSubject: hi\n"
    b"Message-ID: <charset-%d@client.example>\n"
    b'Content-Type: text/plain; charset="unknown-8bit"\n\nGr\xfc\xdfe\n'
)


class SequenceEngine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        # Each example runs in its own savepoint, rolled back in teardown: fresh data, fast.
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        CLOCK.at = START
        CRASH.disarm()
        locmem.outbox.clear()
        mail.outbox.clear()
        self.client = Client()
        self.delivered_at: list[datetime] = []  # parallel to the outbox
        self.numbers = count(1)  # update ids, Message-IDs, mids: each event its own
        self.tasks: list[list[int]] = []  # the broker's queue: send_messages batches
        self.seen_tasks: list[list[int]] = []  # every batch ever published, for late deliveries
        self.replied: dict[int, tuple[int, int]] = {}  # contact -> (event watermark, outbox len)
        self.paused_since: int | None = None  # event watermark while the campaign is paused
        self.strict = not TOLERATE_INFLIGHT_REQUEUE_BUG
        self.in_flight_at_stop: set[int] = set()  # messages sending/unknown at a reply or pause
        self.liveness = True
        # What the platforms posted: each body (for duplicate deliveries), how many distinct
        # events and inbound messages they must have made, and what each DM must read now.
        self.posted: list[tuple[str, str, bytes]] = []  # (channel, url path part, body)
        self.events_expected = 0
        self.quarantined_expected = 0
        self.inbound_expected = 0
        self.dms: dict[str, dict] = {}  # platform message id -> {contact, chat, date, text, ...}
        # (channel, address) -> (event watermark, outbox len) once opted out or bounced.
        self.closed_addresses: dict[tuple[str, str], tuple[int, int]] = {}
        self.ended: dict[int, int] = {}  # enrollment -> event watermark when first seen ended

        self.senders = [
            # Email: a platform that can confirm delivery; a capped, spaced account and one
            # with a weekday 09:00-17:00 window in the contact's time zone.
            factories.sender("E1", channel="email", cap=2, gap=(60, 120)),
            factories.sender(
                "E2",
                channel="email",
                cap=3,
                gap=(30, 30),
                window_days="01234",
                window_start=time(9),
                window_end=time(17),
            ),
            # Telegram: a platform that cannot confirm anything.
            factories.sender("T1", channel="telegram", cap=4, gap=(0, 0)),
        ]
        self.sender_ids = [s.id for s in self.senders]
        # Our Instagram account: no step writes there, but contacts may write to it (and
        # unsend what they wrote), which is a reply like any other.
        self.instagram = factories.sender("I1", channel="instagram")
        SenderAccount.objects.filter(id=self.instagram.id).update(handle=IG_ACCOUNT)
        self.contacts = [
            factories.contact(n, channels=("email", "telegram", "instagram"), tz=tz)
            for n, tz in enumerate(ZONES, start=1)
        ]
        # Each contact started the bot (Telegram's chat id) and wrote on Instagram before.
        for n, contact in enumerate(self.contacts, start=1):
            Identity.objects.filter(contact=contact, channel="telegram").update(
                platform_user_id=str(700000 + n)
            )
            Identity.objects.filter(contact=contact, channel="instagram").update(
                platform_user_id=str(9100000000000 + n)
            )
        self.campaign = factories.campaign(
            senders=self.senders, steps=(("email", 0), ("telegram", 3600))
        )
        self.steps = Step.objects.filter(sequence=self.campaign.sequence).count()
        enrollments_create(campaign=self.campaign, contacts=self.contacts)
        # Sticky senders pinned (rotation hashes the contact id, and PostgreSQL ids differ
        # between examples): two contacts write from E1, two from E2. Hypothesis replays
        # need the same data every time.
        for n, contact in enumerate(self.contacts):
            Enrollment.objects.filter(campaign=self.campaign, contact=contact).update(
                sender=self.senders[0] if n < 2 else self.senders[1]
            )
        campaign_launch(campaign=self.campaign)

    # --- helpers ---------------------------------------------------------------------------

    def _stamp_deliveries(self) -> None:
        while len(self.delivered_at) < len(locmem.outbox):
            self.delivered_at.append(CLOCK.now())

    def _watermark(self) -> int:
        return MessageEvent.objects.aggregate(m=Max("id"))["m"] or 0

    def _campaign_messages(self):
        return Message.objects.filter(step_send__enrollment__campaign=self.campaign)

    def _tick(self) -> list[list[int]]:
        """One dispatcher run; the batches it published go onto the broker's queue."""
        with TestCase.captureOnCommitCallbacks() as published:
            dispatch_tick(now=CLOCK.now())
        # campaigns.dispatch publishes each batch with a named function (robust on_commit
        # needs a __qualname__) that closes over the batch.
        batches = [
            list(inspect.getclosurevars(task).nonlocals["batch"])
            for task in published
            if getattr(task, "__name__", "") == "publish_send_batch"
        ]
        self.tasks.extend(batches)
        self.seen_tasks.extend(batches)
        return batches

    def _send(self, batch: list[int]) -> None:
        """A worker takes the task off the broker and runs it."""
        send_messages(batch)
        self._stamp_deliveries()

    def _send_and_die(self, batch: list[int], when: str, pick=lambda mid, n: n == 0) -> bool:
        """A worker runs the task and is killed at `when`; True if it died."""
        CRASH.arm(when, pick)
        try:
            with connection.execute_wrapper(CRASH.before_statement):
                send_messages(batch)
        except WorkerKilled:
            assert CRASH.savepoint is not None
            transaction.savepoint_rollback(CRASH.savepoint)  # what the dead task never wrote
            return True
        finally:
            CRASH.disarm()
            self._stamp_deliveries()
        return False

    def _identity(self, c: int, channel: str) -> Identity:
        return Identity.objects.get(contact=self.contacts[c], channel=channel)

    def _email_sender(self, c: int) -> SenderAccount:
        enrollment = Enrollment.objects.get(campaign=self.campaign, contact=self.contacts[c])
        return next(s for s in self.senders if s.id == enrollment.sender_id)

    def _last_sent(self, c: int, channel: str) -> Message | None:
        return (
            Message.objects.filter(
                direction=Message.Direction.OUTBOUND,
                channel=channel,
                conversation__identity__contact=self.contacts[c],
                status__in=[M.SENT, M.DELIVERED, M.READ],
            )
            .exclude(provider_message_id="")
            .order_by("-id")
            .first()
        )

    def _post(self, channel: str, path: str, body: bytes) -> None:
        response = post_webhook(self.client, path, body, signed_headers(channel, body))
        assert response.status_code == 200, (response.status_code, response.content[:200])

    def _arrives(self, channel: str, path: str, body: bytes, *, messages: int = 1) -> None:
        """The platform posts a new event: stored once, and `messages` inbound messages."""
        self._post(channel, path, body)
        self.posted.append((channel, path, body))
        self.events_expected += 1
        self.inbound_expected += messages

    def _processed(self) -> list[str]:
        """The workers process what the webhook stored, as the Celery task does."""
        return process_all()

    def _stops(self, contact_id: int) -> None:
        if contact_id not in self.replied:
            self.replied[contact_id] = (self._watermark(), len(locmem.outbox))
            self._remember_in_flight(conversation__identity__contact_id=contact_id)

    def _email_reply(self, c: int, *, subject: str = "", body: str = "") -> bytes:
        contact = self.contacts[c]
        ours = self._last_sent(c, "email")
        n = next(self.numbers)
        return _mail(
            frm=f"Lead{c + 1} Tester <{self._identity(c, 'email').value}>",
            to=self._email_sender(c).handle,
            subject=subject or "Re: Hello",
            body=body or f"Thanks, but no thanks, {contact.first_name} here.",
            msgid=f"<reply-{n}@mail.example.com>",
            answers=ours.provider_message_id if ours else "",
        )

    def _telegram_update(self, c: int, text: str) -> tuple[bytes, str]:
        chat = int(self._identity(c, "telegram").platform_user_id)
        n = next(self.numbers)
        user = {"id": chat, "is_bot": False, "first_name": f"Lead{c + 1}"}
        message = {
            "message_id": n,
            "from": user,
            "chat": {"id": chat, "first_name": f"Lead{c + 1}", "type": "private"},
            "date": int(CLOCK.now().timestamp()),
            "text": text,
        }
        ours = self._last_sent(c, "telegram")
        if ours is not None:  # answering our message with Telegram's "reply"
            message["reply_to_message"] = {
                "message_id": int(ours.provider_message_id.rpartition(":")[2]),
                "from": {"id": 1, "is_bot": True, "first_name": "T1"},
                "chat": message["chat"],
                "date": int(CLOCK.now().timestamp()) - 60,
                "text": ours.body,
            }
        key = f"{chat}:{n}"
        self.dms[key] = {"channel": "telegram", "contact": c, "message": message, "text": text}
        return json.dumps({"update_id": n, "message": message}).encode(), key

    def _instagram_event(self, c: int, message: dict) -> bytes:
        ms = int(CLOCK.now().timestamp() * 1000)
        event = {
            "sender": {"id": self._identity(c, "instagram").platform_user_id},
            "recipient": {"id": IG_ACCOUNT},
            "timestamp": ms,
            "message": message,
        }
        body = {
            "object": "instagram",
            "entry": [{"id": IG_ACCOUNT, "time": ms, "messaging": [event]}],
        }
        return json.dumps(body).encode()

    # --- rules: the broker and the workers ---------------------------------------------------

    @rule()
    def dispatcher_tick(self) -> None:
        self._tick()

    @precondition(lambda self: self.tasks)
    @rule(i=task_index)
    def deliver(self, i: int) -> None:
        self._send(self.tasks.pop(i % len(self.tasks)))

    @precondition(lambda self: self.tasks)
    @rule(i=task_index)
    def deliver_twice(self, i: int) -> None:
        batch = self.tasks.pop(i % len(self.tasks))
        self._send(batch)
        self._send(batch)

    @precondition(lambda self: self.tasks)
    @rule(i=task_index)
    def drop(self, i: int) -> None:
        self.tasks.pop(i % len(self.tasks))

    @precondition(lambda self: self.seen_tasks)
    @rule(i=task_index, late_by=st.sampled_from([1, 200, 4000]))
    def deliver_late(self, i: int, late_by: int) -> None:
        CLOCK.at += timedelta(seconds=late_by)
        self._send(self.seen_tasks[i % len(self.seen_tasks)])

    @precondition(lambda self: self.tasks)
    @rule(i=task_index, redelivered=st.booleans())
    def crash_after_claim(self, i: int, redelivered: bool) -> None:
        """The worker dies right after its batch's claim committed; with acks_late the broker
        may hand the task to another worker."""
        batch = self.tasks.pop(i % len(self.tasks))
        died = self._send_and_die(batch, "claimed")
        if redelivered and died:
            self.tasks.append(batch)

    @precondition(lambda self: self.tasks)
    @rule(i=task_index, redelivered=st.booleans(), nth=st.integers(0, 2))
    def crash_after_platform_accepted(self, i: int, redelivered: bool, nth: int) -> None:
        """The worker dies after the platform accepted the nth send of its batch (the ones
        before it went out too), before the batch was recorded."""
        batch = self.tasks.pop(i % len(self.tasks))
        died = self._send_and_die(batch, "accepted", lambda mid, n: n == nth % len(batch))
        if redelivered and died:
            self.tasks.append(batch)

    @rule()
    def reconciler_runs_after_the_grace_period(self) -> None:
        CLOCK.at += timedelta(seconds=django_settings.SEND_GRACE + 1)
        reconcile(now=CLOCK.now())
        self._stamp_deliveries()

    # --- rules: the contacts write back, through the platforms' webhooks --------------------

    @rule(c=contact_index, channel=st.sampled_from(["email", "telegram", "instagram"]))
    def contact_replies(self, c: int, channel: str) -> None:
        if channel == "email":
            self._arrives("email", "email", self._email_reply(c))
        elif channel == "telegram":
            body, _ = self._telegram_update(c, "Thanks, but no thanks.")
            self._arrives("telegram", f"telegram/{self.senders[2].id}", body)
        else:
            mid = f"aWdfZAG1faXRlbToxOklHTWVzc2FnZUlEOj{next(self.numbers)}"
            self.dms[mid] = {"channel": "instagram", "contact": c, "text": "Not for us, sorry."}
            body = self._instagram_event(c, {"mid": mid, "text": "Not for us, sorry."})
            self._arrives("instagram", "instagram", body)
        assert self._processed() == ["reply"]
        self._stops(self.contacts[c].id)

    @precondition(lambda self: self.posted)
    @rule(i=task_index)
    def the_platform_delivers_an_event_again(self, i: int) -> None:
        """Webhooks are at-least-once: the same bytes again must change nothing."""
        channel, path, body = self.posted[i % len(self.posted)]
        self._post(channel, path, body)
        assert self._processed() == []

    @precondition(lambda self: any(d["channel"] == "telegram" for d in self.dms.values()))
    @rule(i=task_index)
    def contact_edits_a_telegram_message(self, i: int) -> None:
        keys = sorted(k for k, d in self.dms.items() if d["channel"] == "telegram")
        dm = self.dms[keys[i % len(keys)]]
        n = next(self.numbers)
        dm["text"] = f"Thanks, but no thanks (edit {n})."
        edited = dm["message"] | {"edit_date": int(CLOCK.now().timestamp()), "text": dm["text"]}
        edited.pop("reply_to_message", None)
        body = json.dumps({"update_id": n, "edited_message": edited}).encode()
        self._arrives("telegram", f"telegram/{self.senders[2].id}", body, messages=0)
        assert self._processed() == ["edited"]

    @precondition(
        lambda self: any(
            d["channel"] == "instagram" and not d.get("unsent") for d in self.dms.values()
        )
    )
    @rule(i=task_index)
    def contact_unsends_an_instagram_message(self, i: int) -> None:
        keys = sorted(
            k for k, d in self.dms.items() if d["channel"] == "instagram" and not d.get("unsent")
        )
        mid = keys[i % len(keys)]
        self.dms[mid] |= {"unsent": True, "text": ""}
        body = self._instagram_event(self.dms[mid]["contact"], {"mid": mid, "is_deleted": True})
        self._arrives("instagram", "instagram", body, messages=0)
        assert self._processed() == ["unsent: redacted"]

    @precondition(lambda self: self._bounceable())
    @rule(i=task_index)
    def an_email_bounces(self, i: int) -> None:
        """The contact's mail server refuses the address after our email went out."""
        c = self._bounceable()[i % len(self._bounceable())]
        ours = self._last_sent(c, "email")
        assert ours is not None
        address = self._identity(c, "email").value
        dsn = _dsn(
            mailbox=ours.sender.handle,
            recipient=address,
            ours=ours.provider_message_id,
            n=next(self.numbers),
        )
        self._arrives("email", "email", dsn)
        assert self._processed() == ["bounce"]
        self._closed("email", address)
        assert suppressions_matching(address, channel="email").exists()

    def _bounceable(self) -> list[int]:
        """The contacts an email of ours went out to (one query: this is a precondition)."""
        reached = set(
            Message.objects.filter(
                direction=Message.Direction.OUTBOUND,
                channel="email",
                status__in=[M.SENT, M.DELIVERED, M.READ],
            )
            .exclude(provider_message_id="")
            .values_list("conversation__identity__contact_id", flat=True)
        )
        return [c for c, contact in enumerate(self.contacts) if contact.id in reached]

    @rule(
        c=contact_index,
        subject=st.sampled_from(["UnSubscribe", "Abmelden", "RE: Hello - bitte AUSTRAGEN"]),
    )
    def contact_unsubscribes_in_the_subject_line(self, c: int, subject: str) -> None:
        body = "Von meinem iPhone gesendet"  # nothing in the body asks for anything
        self._arrives("email", "email", self._email_reply(c, subject=subject, body=body))
        assert self._processed() == ["opt_out"]
        self._closed("email", self._identity(c, "email").value)
        self._stops(self.contacts[c].id)

    @rule(a=contact_index, b=contact_index, nul=st.booleans())
    def a_poison_mail_between_two_replies(self, a: int, b: int, nul: bool) -> None:
        """An unreadable mail arrives between two real replies (one of which, maybe, with a
        quoted-printable NUL byte PostgreSQL cannot store): both replies land and stop their
        sequences, the poison is quarantined, nothing waits behind it."""
        first = self._email_reply(a, body="Thanks, but no thanks.=00" if nul else "")
        self._arrives("email", "email", first)
        poison = POISON % next(self.numbers)
        self._post("email", "email", poison)
        self.posted.append(("email", "email", poison))
        self.events_expected += 1
        self.quarantined_expected += 1
        self._arrives("email", "email", self._email_reply(b))
        assert self._processed() == ["reply", "reply"]
        self._stops(self.contacts[a].id)
        self._stops(self.contacts[b].id)

    def _closed(self, channel: str, address: str) -> None:
        self.closed_addresses.setdefault(
            (channel, address), (self._watermark(), len(locmem.outbox))
        )

    def _remember_in_flight(self, **filters) -> None:
        self.in_flight_at_stop |= set(
            Message.objects.filter(
                direction=Message.Direction.OUTBOUND, status__in=[M.SENDING, M.UNKNOWN], **filters
            ).values_list("id", flat=True)
        )

    def _tolerated(self) -> set[int]:
        return set() if self.strict else self.in_flight_at_stop

    @rule(seconds=st.sampled_from([1, 45, 130, 700, 3600, 6 * 3600, 30 * 3600, 3 * 86400]))
    def clock_jumps(self, seconds: int) -> None:
        CLOCK.at += timedelta(seconds=seconds)

    @precondition(lambda self: self.paused_since is None)
    @rule()
    def pause_campaign(self) -> None:
        campaign_pause(campaign=self.campaign)
        self.paused_since = self._watermark()
        self._remember_in_flight(step_send__enrollment__campaign=self.campaign)

    @precondition(lambda self: self.paused_since is not None)
    @rule()
    def resume_campaign(self) -> None:
        campaign_resume(campaign=self.campaign)
        self.paused_since = None

    # --- invariants ------------------------------------------------------------------------

    @invariant()
    def at_most_one_delivery_per_enrollment_step(self) -> None:
        self._stamp_deliveries()
        per_message = Counter(m.message_id for m in locmem.outbox)
        per_key = Counter(m.idempotency_key for m in locmem.outbox)
        assert not [k for k, n in per_message.items() if n > 1], per_message
        assert not [k for k, n in per_key.items() if n > 1], per_key
        links = dict(
            StepSend.objects.filter(message_id__in=list(per_message)).values_list(
                "message_id", "enrollment_id"
            )
        )
        steps = Counter(
            (links[m.message_id], m.message_id) for m in locmem.outbox if m.message_id in links
        )
        assert all(n == 1 for n in steps.values())

    @invariant()
    def nothing_is_claimed_or_delivered_after_the_contact_replied(self) -> None:
        for contact_id, (watermark, outbox_len) in self.replied.items():
            late_claims = MessageEvent.objects.filter(
                id__gt=watermark,
                status=M.SENDING,
                message__direction=Message.Direction.OUTBOUND,
                message__conversation__identity__contact_id=contact_id,
            ).exclude(message_id__in=self._tolerated())
            assert not late_claims.exists(), (
                f"contact {contact_id} replied, then message(s) "
                f"{list(late_claims.values_list('message_id', 'detail'))} were claimed"
            )
            late = [
                m.message_id
                for m in locmem.outbox[outbox_len:]
                if m.message_id not in self._tolerated()
            ]
            assert not Message.objects.filter(
                id__in=late, conversation__identity__contact_id=contact_id
            ).exists(), f"contact {contact_id} replied, then got message(s) {late}"

    @invariant()
    def nothing_is_claimed_while_the_campaign_is_paused(self) -> None:
        if self.paused_since is None:
            return
        claims = MessageEvent.objects.filter(
            id__gt=self.paused_since,
            status=M.SENDING,
            message__step_send__enrollment__campaign=self.campaign,
        ).exclude(message_id__in=self._tolerated())
        assert not claims.exists(), list(claims.values_list("message_id", "detail"))

    @invariant()
    def senders_stay_within_their_limits(self) -> None:
        by_message = {
            m.message_id: (m, at) for m, at in zip(locmem.outbox, self.delivered_at, strict=True)
        }
        sender_of = dict(
            Message.objects.filter(id__in=list(by_message)).values_list("id", "sender_id")
        )
        for sender in SenderAccount.objects.filter(id__in=self.sender_ids):
            if sender.counter_day is not None:
                assert sender.sent_today <= limits.effective_cap(sender, sender.counter_day)
            if sender.inflight_message_id is not None:
                status = Message.objects.get(id=sender.inflight_message_id).status
                assert status in (M.SENDING, M.UNKNOWN), (
                    f"sender {sender.name} holds its in-flight slot for a {status} message"
                )
            times = sorted(at for mid, (_, at) in by_message.items() if sender_of[mid] == sender.id)
            per_day = Counter(limits.local_day(sender, at) for at in times)
            assert all(n <= sender.daily_cap for n in per_day.values()), per_day
            gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
            assert all(g >= sender.min_gap_seconds for g in gaps), (sender.name, gaps)

    @invariant()
    def enrollment_states_match_their_messages(self) -> None:
        sends: dict[int, dict[int, str]] = {}
        tolerated = self._tolerated()
        for enrollment_id, position, status, mid, code in StepSend.objects.filter(
            enrollment__campaign=self.campaign
        ).values_list(
            "enrollment_id",
            "step__position",
            "message__status",
            "message_id",
            "message__error_code",
        ):
            if mid in tolerated and status in (M.QUEUED, M.SENDING):
                status = M.UNKNOWN  # the known bug's requeue: treat as still unresolved
            if status == M.FAILED and code.startswith("bounce"):
                status = M.SENT  # it went out; the address bounced it afterwards
            sends.setdefault(enrollment_id, {})[position] = status
        for e in Enrollment.objects.filter(campaign=self.campaign):
            mine = sends.get(e.id, {})
            where = f"enrollment {e.id} ({e.state}, step {e.current_step}): {mine}"
            assert all(p <= e.current_step for p in mine), where
            assert all(mine.get(p) == M.SENT for p in range(1, e.current_step)), where
            current = mine.get(e.current_step)
            if e.state == E.ACTIVE:
                assert e.next_action_at is not None and current is None, where
            elif e.state == E.WAITING:
                assert current in (M.QUEUED, M.PAUSED, M.SENDING, M.UNKNOWN), where
            elif e.state == E.COMPLETED:
                assert len(mine) == self.steps and set(mine.values()) == {M.SENT}, where
            elif e.state == E.REPLIED:
                assert e.replied_at is not None and e.next_action_at is None, where
                assert current not in (M.QUEUED, M.PAUSED), where
            if self.paused_since is None:
                assert current != M.PAUSED, where

    @invariant()
    def an_enrollment_that_ended_sends_nothing_more(self) -> None:
        ended = Enrollment.objects.filter(campaign=self.campaign, state__in=TERMINAL)
        new = list(ended.exclude(id__in=list(self.ended)).values_list("id", flat=True))
        if new:
            watermark = self._watermark()
            self.ended |= dict.fromkeys(new, watermark)
        if not self.ended:
            return
        after = Q()
        for enrollment_id, watermark in self.ended.items():
            after |= Q(message__step_send__enrollment_id=enrollment_id, id__gt=watermark)
        claims = (
            MessageEvent.objects.filter(after, status=M.SENDING)
            .exclude(message_id__in=self._tolerated())
            .values_list("message__step_send__enrollment_id", "message_id", "detail")
        )
        assert not claims.exists(), f"ended enrollments, then claims: {list(claims)}"

    @invariant()
    def every_event_is_stored_once_and_none_waits_behind_another(self) -> None:
        events = InboundEvent.objects.aggregate(
            stored=Count("id"),
            waiting=Count("id", filter=Q(processed_at=None, quarantined_at=None)),
            quarantined=Count("id", filter=Q(quarantined_at__isnull=False)),
        )
        expected = {
            "stored": self.events_expected,
            "waiting": 0,
            "quarantined": self.quarantined_expected,
        }
        assert events == expected
        inbound = Message.objects.filter(direction=Message.Direction.INBOUND)
        assert inbound.count() == self.inbound_expected

    @invariant()
    def each_direct_message_reads_as_the_contact_last_left_it(self) -> None:
        """Once, with its latest edit; an unsent one redacted, still there as a fact."""
        stored = {
            m.provider_message_id: m
            for m in Message.objects.filter(
                direction=Message.Direction.INBOUND, provider_message_id__in=list(self.dms)
            )
        }
        for key, dm in self.dms.items():
            message = stored[key]
            assert message.body == dm["text"], (key, message.body, dm)
            assert (message.deleted_at is not None) == bool(dm.get("unsent")), key

    @invariant()
    def nothing_goes_to_an_address_after_it_opted_out_or_bounced(self) -> None:
        for (channel, address), (watermark, outbox_len) in self.closed_addresses.items():
            claims = MessageEvent.objects.filter(
                id__gt=watermark,
                status=M.SENDING,
                message__direction=Message.Direction.OUTBOUND,
                message__channel=channel,
                message__conversation__identity__value=address,
            ).exclude(message_id__in=self._tolerated())
            assert not claims.exists(), (address, list(claims.values_list("message_id", flat=True)))
            late = [
                m.message_id
                for m in locmem.outbox[outbox_len:]
                if m.channel == channel and m.recipient == address
            ]
            assert not set(late) - self._tolerated(), f"{address} closed, then got {late}"

    # --- liveness --------------------------------------------------------------------------

    def _next_interesting_time(self) -> datetime:
        """The next instant anything can change: a hold ends, a follow-up falls due, a sender's
        gap ends, a lost task may be offered again, or a stuck send is due for reconciling."""
        now = CLOCK.now()
        mine = self._campaign_messages()
        requeue = timedelta(seconds=django_settings.REQUEUE_AFTER + 1)
        grace = timedelta(seconds=django_settings.SEND_GRACE + 1)
        candidates = [now + timedelta(hours=6)]
        candidates += [
            t for t in mine.filter(status=M.QUEUED).values_list("not_before", flat=True) if t
        ]
        candidates += [
            t + requeue
            for t in mine.filter(status=M.QUEUED).values_list("enqueued_at", flat=True)
            if t
        ]
        candidates += [
            t + grace
            for t in mine.filter(status__in=[M.SENDING, M.UNKNOWN]).values_list(
                "claimed_at", flat=True
            )
            if t
        ]
        candidates += Enrollment.objects.filter(campaign=self.campaign, state=E.ACTIVE).values_list(
            "next_action_at", flat=True
        )
        candidates += [
            t
            for t in SenderAccount.objects.filter(id__in=self.sender_ids).values_list(
                "next_send_at", flat=True
            )
            if t
        ]
        return max(now + timedelta(seconds=1), min(t for t in candidates if t > now))

    def _settled(self) -> bool:
        if Enrollment.objects.filter(campaign=self.campaign, state=E.ACTIVE).exists():
            return False
        open_ = self._campaign_messages().filter(status__in=[M.QUEUED, M.PAUSED, M.SENDING])
        if open_.exists():
            return False
        unresolved = (
            self._campaign_messages()
            .filter(status=M.UNKNOWN)
            .exclude(hold_reason__startswith="needs review")
        )
        return not unresolved.exists()

    def _quiet_period(self) -> None:
        if self.paused_since is not None:
            self.resume_campaign()
        for _ in range(150):
            if self._settled():
                return
            offered = self._tick()
            while self.tasks:
                self._send(self.tasks.pop(0))
            reconcile(now=CLOCK.now())
            self._stamp_deliveries()
            self.check_all()
            if not offered:
                CLOCK.at = self._next_interesting_time()
        raise AssertionError("the campaign did not settle in the quiet period")

    def check_all(self) -> None:
        self.at_most_one_delivery_per_enrollment_step()
        self.nothing_is_claimed_or_delivered_after_the_contact_replied()
        self.senders_stay_within_their_limits()
        self.enrollment_states_match_their_messages()
        self.nothing_goes_to_an_address_after_it_opted_out_or_bounced()

    def teardown(self) -> None:
        try:
            if not self.liveness:
                return
            self._quiet_period()
            for e in Enrollment.objects.filter(campaign=self.campaign):
                link = StepSend.objects.filter(enrollment=e, step__position=e.current_step)
                statuses = set(link.values_list("message__status", flat=True))
                assert e.state in TERMINAL or (e.state == E.WAITING and statuses == {M.UNKNOWN})
            final = set(
                self._campaign_messages()
                .exclude(status=M.FAILED, error_code__startswith="bounce")
                .values_list("status", flat=True)
            )
            assert final <= {M.SENT, M.CANCELLED, M.UNKNOWN}, final
            # The dashboards' counters followed every send, retry, crash and reply exactly.
            ids = list(Enrollment.objects.filter(campaign=self.campaign).values_list("id"))
            recount = live_day_stats([i for (i,) in ids])
            kept = {
                (s.campaign_id, s.day, s.step, s.variant): {f: getattr(s, f) for f in FIELDS}
                for s in CampaignDayStats.objects.filter(campaign=self.campaign)
            }
            assert _nonzero(kept) == _nonzero(recount)
        finally:
            transaction.set_rollback(True)
            self._atomic.__exit__(None, None, None)
            locmem.outbox.clear()
            mail.outbox.clear()


@pytest.mark.django_db
def test_sequence_engine_sends_each_step_once_within_limits_and_stops_on_reply(
    settings, monkeypatch
):
    settings.OUTREACH_CHANNELS = channels_for_the_model()
    settings.CONTACT_DAILY_MESSAGE_CAP = 0
    monkeypatch.setattr(timezone, "now", CLOCK.now)
    run_state_machine_as_test(
        SequenceEngine,
        settings=hsettings(
            max_examples=int(__import__("os").environ.get("STATEFUL_EXAMPLES", "25")),
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


def test_the_model_clock_starts_on_a_friday_afternoon_in_europe():
    assert START.astimezone(ZoneInfo("Europe/Berlin")).strftime("%A %H:%M") == "Friday 15:00"


# --- named scenarios, replayed through the same model ----------------------------------------


@pytest.fixture
def engine(settings, monkeypatch):
    settings.OUTREACH_CHANNELS = channels_for_the_model()
    settings.CONTACT_DAILY_MESSAGE_CAP = 0
    monkeypatch.setattr(timezone, "now", CLOCK.now)
    machine = SequenceEngine()
    # Pin every contact's email to the always-open E1 (rotation is sticky per contact id,
    # and ids differ between runs), so the scenarios below do not depend on the database.
    Enrollment.objects.filter(campaign=machine.campaign).update(sender=machine.senders[0])
    yield machine
    machine.teardown()


def first_task_for(machine: SequenceEngine, channel: str) -> tuple[int, int, int]:
    """(index in the broker queue, index of the contact, message id) of the first queued
    message on a channel from an always-open sender (E1 or T1), so its claim cannot be held."""
    for i, batch in enumerate(machine.tasks):
        for mid in batch:
            message = Message.objects.select_related("conversation__identity", "sender").get(id=mid)
            if message.channel == channel and message.sender.name in ("E1", "T1"):
                contact_id = message.conversation.identity.contact_id
                return i, [c.id for c in machine.contacts].index(contact_id), mid
    raise AssertionError(f"no {channel} task queued for an always-open sender")


def task_with(machine: SequenceEngine, mid: int) -> int:
    return next(i for i, batch in enumerate(machine.tasks) if mid in batch)


@pytest.mark.django_db
def test_the_dispatcher_publishes_batches_and_a_worker_sends_each_message_of_one(engine):
    engine.contact_replies(c=2, channel="email")  # E1's third contact: one message per sender
    engine.clock_jumps(seconds=3600)
    engine.dispatcher_tick()
    (batch,) = engine.tasks
    assert len(batch) == 1  # E1's first contact; the second waits for E1's gap
    engine.deliver(i=0)
    assert [m.message_id for m in locmem.outbox] == batch
    engine.clock_jumps(seconds=130)
    engine.dispatcher_tick()
    engine.clock_jumps(seconds=3600)
    engine.dispatcher_tick()
    assert sum(len(b) for b in engine.tasks) >= 2
    assert any(len(b) > 1 for b in engine.tasks)  # E1's and T1's messages share a batch
    while engine.tasks:
        engine.deliver(i=0)
    assert len({m.message_id for m in locmem.outbox}) == len(locmem.outbox) >= 3


@pytest.mark.django_db
def test_a_send_that_crashed_before_the_platform_saw_it_is_resent_exactly_once(engine):
    engine.dispatcher_tick()
    i, _, mid = first_task_for(engine, "email")
    engine.crash_after_claim(i=i, redelivered=True)
    engine.deliver(i=len(engine.tasks) - 1)  # the redelivered task finds it "sending": no-op
    assert not locmem.outbox
    engine.reconciler_runs_after_the_grace_period()  # the platform never saw it: requeued
    assert Message.objects.get(id=mid).status == M.QUEUED
    engine.clock_jumps(seconds=130)  # the sender's gap after the refund
    engine._tick()
    engine.deliver(i=task_with(engine, mid))
    message = Message.objects.get(id=mid)
    assert (message.status, message.attempts) == (M.SENT, 2)
    assert [m.message_id for m in locmem.outbox].count(mid) == 1


@pytest.mark.django_db
def test_a_send_the_platform_accepted_before_the_crash_is_recorded_without_a_second_call(engine):
    engine.dispatcher_tick()
    i, _, mid = first_task_for(engine, "email")
    assert engine._send_and_die(engine.tasks[i], "accepted", lambda m, n: m == mid)
    engine.deliver(i=i)  # redelivered: it finds its message "sending" and leaves it
    engine.reconciler_runs_after_the_grace_period()
    message = Message.objects.get(id=mid)
    assert (message.status, message.attempts) == (M.SENT, 1)
    assert [m.message_id for m in locmem.outbox] == [mid]


def first_telegram_task(engine) -> int:
    """Deliver tasks until a telegram step's (a platform that cannot look a send up) is due."""
    engine.clock_jumps(seconds=3600)  # step 2 (telegram) falls due after step 1
    for _ in range(6):
        engine.dispatcher_tick()
        while engine.tasks and not any(
            Message.objects.filter(id__in=b, channel="telegram").exists() for b in engine.tasks
        ):
            engine.deliver(i=0)
        engine.clock_jumps(seconds=3600)
    i, _, _ = first_task_for(engine, "telegram")
    return i


def telegram_of(engine, i: int) -> int:
    return Message.objects.get(id__in=engine.tasks[i], channel="telegram").id


@pytest.mark.django_db
def test_a_platform_that_cannot_confirm_a_crashed_send_puts_it_up_for_review_not_resend(engine):
    i = first_telegram_task(engine)
    mid = telegram_of(engine, i)
    batch = engine.tasks.pop(i)
    assert engine._send_and_die(batch, "accepted", lambda m, n: m == mid)
    engine.reconciler_runs_after_the_grace_period()
    message = Message.objects.get(id=mid)
    assert message.status == M.UNKNOWN
    assert message.hold_reason.startswith("needs review")
    assert [m.message_id for m in locmem.outbox].count(mid) == 1


@pytest.mark.django_db
def test_a_crash_before_calling_a_platform_that_cannot_confirm_resends_without_review(engine):
    i = first_telegram_task(engine)
    mid = telegram_of(engine, i)
    engine.crash_after_claim(i=i, redelivered=False)
    engine.reconciler_runs_after_the_grace_period()  # it never called the platform
    message = Message.objects.get(id=mid)
    assert (message.status, message.hold_reason) == (M.QUEUED, "worker stopped before sending it")
    engine.clock_jumps(seconds=130)
    engine._tick()
    engine.deliver(i=task_with(engine, mid))
    assert Message.objects.get(id=mid).status == M.SENT
    assert [m.message_id for m in locmem.outbox].count(mid) == 1


@pytest.mark.django_db
def test_a_reply_while_a_crashed_send_awaits_the_reconciler_stops_the_resend(engine):
    """The contact replies while step 1's send is stuck in "sending" (worker died after the
    claim). The reconciler then proves the platform never got it and requeues it. It must
    not go out: the contact already replied."""
    engine.strict, engine.liveness = True, False
    engine.dispatcher_tick()
    i, contact, mid = first_task_for(engine, "email")
    engine.crash_after_claim(i=i, redelivered=False)
    engine.contact_replies(c=contact, channel="email")
    engine.reconciler_runs_after_the_grace_period()
    engine.clock_jumps(seconds=130)
    engine.dispatcher_tick()
    while engine.tasks:
        engine.deliver(i=0)
    engine.nothing_is_claimed_or_delivered_after_the_contact_replied()
    assert Message.objects.get(id=mid).status != M.SENT


@pytest.mark.django_db
def test_pausing_the_campaign_while_a_crashed_send_awaits_the_reconciler_holds_the_resend(
    engine,
):
    engine.strict, engine.liveness = True, False
    engine.dispatcher_tick()
    i, _, _ = first_task_for(engine, "email")
    engine.crash_after_claim(i=i, redelivered=False)
    engine.pause_campaign()
    engine.reconciler_runs_after_the_grace_period()
    engine.clock_jumps(seconds=130)
    engine.dispatcher_tick()
    while engine.tasks:
        engine.deliver(i=0)
    engine.nothing_is_claimed_while_the_campaign_is_paused()


# --- named scenarios for the contacts' real-world events -------------------------------------


def first_email_sent(engine) -> tuple[int, Message]:
    """Step 1 goes out to E1's first contact; (contact index, that message)."""
    engine.dispatcher_tick()
    i, c, mid = first_task_for(engine, "email")
    engine.deliver(i=i)
    message = Message.objects.get(id=mid)
    assert message.status == M.SENT
    return c, message


@pytest.mark.django_db
def test_a_reply_delivered_twice_by_the_platform_is_one_reply(engine):
    c, ours = first_email_sent(engine)
    engine.contact_replies(c=c, channel="email")
    engine.the_platform_delivers_an_event_again(i=0)
    replies = Message.objects.filter(direction=Message.Direction.INBOUND)
    assert replies.count() == 1
    assert replies.get().reply_to == ours
    assert Enrollment.objects.get(contact=engine.contacts[c]).state == E.REPLIED


@pytest.mark.django_db
def test_an_edited_telegram_reply_updates_the_text_and_is_never_a_second_reply(engine):
    engine.contact_replies(c=0, channel="telegram")
    engine.contact_edits_a_telegram_message(i=0)
    (reply,) = Message.objects.filter(direction=Message.Direction.INBOUND)
    assert reply.body.startswith("Thanks, but no thanks (edit")
    assert [e["text"] for e in reply.edits] == ["Thanks, but no thanks."]
    assert Enrollment.objects.get(contact=engine.contacts[0]).state == E.REPLIED


@pytest.mark.django_db
def test_an_unsent_instagram_reply_is_redacted_and_still_stopped_the_sequence(engine):
    engine.contact_replies(c=1, channel="instagram")
    engine.contact_unsends_an_instagram_message(i=0)
    (reply,) = Message.objects.filter(direction=Message.Direction.INBOUND)
    assert (reply.body, reply.channel) == ("", "instagram")
    assert reply.deleted_at is not None
    assert Enrollment.objects.get(contact=engine.contacts[1]).state == E.REPLIED


@pytest.mark.django_db
def test_a_bounced_address_is_suppressed_and_gets_no_further_email(engine):
    c, ours = first_email_sent(engine)
    engine.an_email_bounces(i=0)
    ours.refresh_from_db()
    assert (ours.status, ours.error_code) == (M.FAILED, "bounce_5.1.1")
    assert Enrollment.objects.get(contact=engine.contacts[c]).state == E.FAILED


@pytest.mark.django_db
def test_an_unsubscribe_in_the_subject_alone_opts_out_and_stops_everything(engine):
    c, _ = first_email_sent(engine)
    engine.contact_unsubscribes_in_the_subject_line(c=c, subject="Abmelden")
    assert Identity.objects.get(contact=engine.contacts[c], channel="email").opted_out_at
    assert suppressions_matching(f"lead{c + 1}@example.com", channel="email").exists()
    assert Enrollment.objects.get(contact=engine.contacts[c]).state == E.STOPPED


@pytest.mark.django_db
def test_a_poison_mail_between_two_replies_is_quarantined_and_holds_nothing_back(engine):
    engine.a_poison_mail_between_two_replies(a=0, b=3, nul=True)
    states = Enrollment.objects.filter(contact__in=[engine.contacts[0], engine.contacts[3]])
    assert set(states.values_list("state", flat=True)) == {E.REPLIED}
    bad = InboundEvent.objects.get(quarantined_at__isnull=False)
    assert "unknown-8bit" in bad.error


@pytest.mark.django_db
def test_a_bounce_reported_after_the_next_step_was_queued_stops_that_step_too(engine):
    """Found by this model, fixed in campaigns.services.enrollment_after_failure: step 1's
    email bounced after step 2 (Telegram) was already queued. The bounce failed the
    enrollment, but step 2 stayed queued and went out to a contact whose sequence had ended."""
    c, _ = first_email_sent(engine)
    engine.clock_jumps(seconds=3700)  # step 2 falls due and is queued
    engine.dispatcher_tick()
    step2 = Message.objects.get(
        channel="telegram", conversation__identity__contact=engine.contacts[c]
    )
    assert step2.status == M.QUEUED
    engine.an_email_bounces(i=0)
    engine.an_enrollment_that_ended_sends_nothing_more()  # notes when it ended
    while engine.tasks:
        engine.deliver(i=0)
    engine.an_enrollment_that_ended_sends_nothing_more()
    step2.refresh_from_db()
    assert step2.status == M.CANCELLED
    assert step2.id not in [m.message_id for m in locmem.outbox]
