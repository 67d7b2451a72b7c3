"""Replay every file of the inbound corpus (tests/fixtures/inbound/, table in outcomes.csv) on
the production path: the bytes as they are on disk, signed with the channel's own scheme and
posted to the real webhook endpoint, or put in a mailbox on the fake IMAP server and read by
the real poller; then each stored event is processed as the worker does, and the outcome the
table names is checked in the database. A file the table does not list fails.

The world each file needs (our sender, the contact, our message it answers or reports on, the
contact's earlier message it edits or unsends) is built from the table's columns."""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from campaigns.models import Enrollment
from contacts.models import Contact, Identity
from contacts.services import identity_block_reason
from fakeplatform.imap import ImapServer
from outreach.mailbox import mailbox_poll
from outreach.models import Conversation, InboundEvent, MailboxCursor, Message
from outreach.sending.create import conversations_for, messages_create
from tests import factories
from tests.channels import corpus
from tests.channels.helpers import deliver, platform_sender, process_all

pytestmark = pytest.mark.django_db

ROWS = corpus.rows()
PASSWORD = "imap-pass"
# Our messages went out before any event of the corpus was written (a read watermark of 2016
# covers them).
LONG_AGO = datetime(2015, 1, 1, tzinfo=UTC)
EARLIER_TEXT = "An earlier message of theirs"


@dataclass
class World:
    sender: object
    identity: Identity | None = None
    enrollment: Enrollment | None = None
    conversation: Conversation | None = None
    ours: Message | None = None
    theirs: Message | None = None


def _value(row: corpus.Row) -> str:
    if row.channel == "email":
        return row.contact.lower()
    return f"+{row.contact}" if row.channel == "whatsapp" else row.contact


def _world(row: corpus.Row, imap_server: ImapServer) -> World:
    credentials = "123:ABC" if row.channel == "telegram" else "good-token"
    if row.delivery == "mailbox":
        credentials = PASSWORD
    sender = platform_sender(row.channel, row.account, credentials)
    if row.delivery == "mailbox":
        sender.imap_host, sender.imap_port, sender.imap_tls = (
            imap_server.host,
            imap_server.port,
            False,
        )
        sender.save(update_fields=["imap_host", "imap_port", "imap_tls"])
    world = World(sender=sender)
    if not row.contact:
        return world
    contact = Contact.objects.create(first_name="Corpus", last_name="Contact")
    world.identity = Identity.objects.create(
        contact=contact,
        channel=row.channel,
        value=_value(row),
        platform_user_id="" if row.channel == "email" else row.contact,
    )
    campaign = factories.campaign(senders=[sender], steps=((row.channel, 0), (row.channel, 3600)))
    world.enrollment = Enrollment.objects.create(
        campaign=campaign, contact=contact, state="waiting", current_step=2
    )
    key = (world.identity.id, sender.id)
    world.conversation = conversations_for({key})[key]
    common = {"conversation": world.conversation, "sender": sender, "channel": row.channel}
    if row.ours:
        [world.ours] = messages_create(
            [
                Message(
                    **common,
                    direction="out",
                    status="sent",
                    subject="Quick question" if row.channel == "email" else "",
                    body="Shall we talk on Tuesday?",
                    provider_message_id=row.ours,
                    sent_at=LONG_AGO,
                )
            ]
        )
    if row.theirs:
        world.theirs = Message.objects.create(
            **common,
            direction="in",
            status="received",
            body=EARLIER_TEXT,
            provider_message_id=row.theirs,
            sent_at=LONG_AGO,
        )
    return world


def _replay(
    client, row: corpus.Row, raw: bytes, world: World, imap_server: ImapServer, again=False
) -> None:
    if row.delivery == "webhook":
        assert deliver(client, row.channel, raw) == row.http
        return
    state = imap_server.state
    if not again:
        state.mailboxes.clear()
        state.add_user(row.account, PASSWORD, uidvalidity=7)
    uid = state.append(row.account, raw)
    assert mailbox_poll(sender=world.sender) == (0 if again else 1)
    assert MailboxCursor.objects.get(sender=world.sender).last_uid == uid  # never held


def _inbound(world: World) -> list[Message]:
    rows = Message.objects.filter(direction="in").order_by("id")
    if world.theirs is not None:
        rows = rows.exclude(id=world.theirs.id)
    return list(rows)


def _blocked_when_imported_again(row: corpus.Row, world: World) -> str:
    """The same address comes back with a new contact (the old one deleted, a new import):
    why it must not be contacted, or "" if it may be."""
    assert world.identity is not None
    Contact.objects.filter(id=world.identity.contact_id).delete()
    again = Contact.objects.create(first_name="Again")
    return identity_block_reason(
        identity=Identity.objects.create(contact=again, channel=row.channel, value=_value(row))
    )


def _still_waiting(world: World) -> None:
    if world.enrollment is not None:
        world.enrollment.refresh_from_db()
        assert world.enrollment.state == "waiting"


# --- what each outcome means, checked in the database ---------------------------------------


def check_reply(row, world, caplog):
    [reply] = _inbound(world)
    assert row.expect in reply.body
    assert "\x00" not in reply.body
    assert reply.events.filter(detail="reply").exists()
    if world.ours is not None:
        assert reply.reply_to_id == world.ours.id
    world.enrollment.refresh_from_db()
    assert world.enrollment.state == "replied"  # the follow-up will not go


def check_opt_out(row, world, caplog):
    world.identity.refresh_from_db()
    assert world.identity.opted_out_at is not None
    world.enrollment.refresh_from_db()
    assert world.enrollment.state == "stopped"
    assert _blocked_when_imported_again(row, world)


def check_auto_reply(row, world, caplog):
    [auto] = _inbound(world)
    assert auto.events.filter(detail="auto_reply").exists()
    assert row.expect in auto.body
    world.enrollment.refresh_from_db()
    assert world.enrollment.state != "replied"


def check_bounce_hard(row, world, caplog):
    world.ours.refresh_from_db()
    assert world.ours.status == "failed" and world.ours.error_code.startswith("bounce_")
    assert "address bounced on " in _blocked_when_imported_again(row, world)


def check_bounce_soft(row, world, caplog):
    world.ours.refresh_from_db()
    # Sent again later (outreach/suppress.py), not failed: one soft bounce suppresses nothing.
    assert world.ours.status == "queued"
    assert world.ours.hold_reason.startswith("soft bounce")
    assert _blocked_when_imported_again(row, world) == ""


def check_delayed(row, world, caplog):
    world.ours.refresh_from_db()
    assert world.ours.status == "sent"
    _still_waiting(world)
    assert _blocked_when_imported_again(row, world) == ""


def check_complaint(row, world, caplog):
    world.identity.refresh_from_db()
    assert world.identity.opted_out_at is not None
    assert _blocked_when_imported_again(row, world)


def check_status(row, world, caplog):
    world.ours.refresh_from_db()
    assert world.ours.status == row.expect
    assert _inbound(world) == []
    _still_waiting(world)


def check_edit(row, world, caplog):
    world.theirs.refresh_from_db()
    assert world.theirs.body == row.expect
    assert [e["text"] for e in world.theirs.edits] == [EARLIER_TEXT]
    assert _inbound(world) == []  # never a second reply


def check_unsend(row, world, caplog):
    world.theirs.refresh_from_db()
    assert world.theirs.body == "" and world.theirs.deleted_at is not None
    assert _inbound(world) == []


def check_reaction(row, world, caplog):
    world.ours.refresh_from_db()
    assert [r["action"] for r in world.ours.reactions] == ["react"]
    assert _inbound(world) == []
    _still_waiting(world)


def check_handover(row, world, caplog):
    world.conversation.refresh_from_db()
    assert world.conversation.thread_owner == row.expect
    assert _inbound(world) == []


def check_echo(row, world, caplog):
    assert _inbound(world) == []
    _still_waiting(world)


def check_blocked(row, world, caplog):
    world.identity.refresh_from_db()
    assert world.identity.opted_out_at is not None
    assert world.identity.opt_out_source == row.expect


def check_start(row, world, caplog):
    started = Identity.objects.get(channel=row.channel, platform_user_id=row.expect)
    assert started.consent_at is not None
    assert _inbound(world) == []


def check_number_changed(row, world, caplog):
    world.identity.refresh_from_db()
    assert world.identity.platform_user_id == row.expect
    assert _inbound(world) == []


def check_comment(row, world, caplog):
    assert Conversation.objects.filter(comment_id=row.expect).exists()
    _still_waiting(world)


def check_unknown(row, world, caplog):
    [event] = InboundEvent.objects.all()
    assert event.processed_at is not None
    logged = [r.getMessage() for r in caplog.records if "of a kind not handled" in r.getMessage()]
    assert len(logged) == 1 and f"({row.expect})" in logged[0]
    assert _inbound(world) == []
    _still_waiting(world)


def check_ignored(row, world, caplog):
    assert not InboundEvent.objects.exists()
    assert _inbound(world) == []
    if world.ours is not None:
        world.ours.refresh_from_db()
        assert world.ours.status == "sent"
    _still_waiting(world)


def check_unmatched(row, world, caplog):
    [event] = InboundEvent.objects.all()
    assert event.processed_at is not None
    assert _inbound(world) == []
    _still_waiting(world)


def check_quarantined(row, world, caplog):
    [event] = InboundEvent.objects.all()
    assert event.quarantined_at is not None and row.expect in event.error
    assert bytes(event.raw)  # kept as it came, replayable from the admin
    assert _inbound(world) == []


def check_rejected(row, world, caplog):
    assert not InboundEvent.objects.exists()
    assert _inbound(world) == []


CHECKS = {
    name.removeprefix("check_"): f for name, f in globals().items() if name.startswith("check_")
}


def test_the_table_names_only_known_outcomes_and_existing_files():
    assert {r.outcome for r in ROWS.values()} <= set(CHECKS)
    assert {r.delivery for r in ROWS.values()} <= {"webhook", "mailbox"}
    assert not set(ROWS) - set(corpus.files()), "rows for files that do not exist"
    assert len(ROWS) >= 70


@pytest.mark.parametrize("path", sorted(set(corpus.files()) | set(ROWS)))
def test_each_corpus_file_replays_to_its_outcome(
    path, client, platform_channels, imap_server, caplog
):
    row = ROWS.get(path)
    assert row is not None, f"{path} is not in tests/fixtures/inbound/outcomes.csv"
    world = _world(row, imap_server)
    raw = (corpus.ROOT / path).read_bytes()
    with caplog.at_level(logging.WARNING, logger="outreach.inbound"):
        _replay(client, row, raw, world, imap_server)
        assert process_all() == row.worker_outcomes
        # Nothing is left waiting: each event was applied or quarantined.
        assert not InboundEvent.objects.filter(processed_at=None, quarantined_at=None).exists()
        # The platform delivers it again (a retry, a second copy of the mail): nothing new.
        stored = InboundEvent.objects.count()
        _replay(client, row, raw, world, imap_server, again=True)
        assert process_all() == []
        assert InboundEvent.objects.count() == stored
    CHECKS[row.outcome](row, world, caplog)
