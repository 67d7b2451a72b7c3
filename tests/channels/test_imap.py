"""Reply detection by IMAP polling, against a real IMAP4rev1 peer on a loopback socket
(fakeplatform.imap) read by imaplib, fed the real .eml samples."""

import pytest
from django.core import mail

from contacts.services import suppressions_matching
from outreach.mailbox import MailboxError, mailbox_poll
from outreach.models import InboundEvent, MailboxCursor, Message
from tests.channels.conftest import fixture_bytes
from tests.channels.helpers import (
    MAILBOX,
    email_lead,
    email_sent,
    hard_bounce,
    mailbox_sender,
    out_of_office,
    process_all,
    reply_by_references,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead(platform_channels, imap):
    """Our first email to lead1@example.com sent, replies polled from the fake mailbox."""
    sender = mailbox_sender(imap)
    conv, enrollment = email_lead(sender)
    ours = email_sent(conv)
    assert len(mail.outbox) == 1
    return sender, enrollment, ours


def test_a_reply_threaded_only_by_references_stops_the_sequence(lead, imap):
    sender, enrollment, ours = lead
    imap.state.append(MAILBOX, reply_by_references(ours.provider_message_id))
    assert mailbox_poll(sender=sender) == 1
    assert process_all() == ["reply"]
    enrollment.refresh_from_db()
    assert enrollment.state == "replied"
    reply = Message.objects.get(direction="in")
    assert (reply.subject, reply.body) == ("Different topic", "Hello")
    cursor = MailboxCursor.objects.get(sender=sender)
    assert (cursor.uidvalidity, cursor.last_uid) == (7, 1)


def test_out_of_office_and_bounce_are_not_replies_and_the_bounce_suppresses(lead, imap):
    sender, enrollment, ours = lead
    imap.state.append(MAILBOX, out_of_office(ours.provider_message_id))
    imap.state.append(MAILBOX, fixture_bytes("email", "ooo_auto_submitted_auto_replied.eml"))
    imap.state.append(MAILBOX, hard_bounce(returned_id=ours.provider_message_id))
    assert mailbox_poll(sender=sender) == 3
    assert sorted(process_all()) == ["auto_reply", "bounce", "unmatched"]
    enrollment.refresh_from_db()
    assert enrollment.state == "active"
    assert suppressions_matching("lead1@example.com", "email").exists()
    ours.refresh_from_db()
    assert (ours.status, ours.error_code) == ("failed", "bounce_5.1.1")


def test_polling_twice_reads_only_new_mail_and_duplicates_nothing(lead, imap):
    sender, _, ours = lead
    imap.state.append(MAILBOX, reply_by_references(ours.provider_message_id))
    assert mailbox_poll(sender=sender) == 1
    assert mailbox_poll(sender=sender) == 0
    assert imap.state.fetched == 1  # the second poll fetched nothing: the cursor held
    imap.state.append(MAILBOX, out_of_office(ours.provider_message_id))
    assert mailbox_poll(sender=sender) == 1
    assert imap.state.fetched == 2
    assert InboundEvent.objects.count() == 2
    assert MailboxCursor.objects.get(sender=sender).last_uid == 2


def test_a_crash_between_fetch_and_cursor_save_replays_harmlessly(lead, imap):
    sender, enrollment, ours = lead
    imap.state.append(MAILBOX, out_of_office(ours.provider_message_id))
    imap.state.append(MAILBOX, fixture_bytes("email", "ooo_auto_submitted_auto_replied.eml"))
    imap.state.append(MAILBOX, reply_by_references(ours.provider_message_id))
    # The connection dies while the second batch is being fetched: the first batch is
    # stored with its cursor, the second neither.
    imap.state.drop_after_fetches = 2
    with pytest.raises(MailboxError):
        mailbox_poll(sender=sender, batch_size=2)
    assert InboundEvent.objects.count() == 2
    assert MailboxCursor.objects.get(sender=sender).last_uid == 2
    # Worse: the cursor is lost after the inserts (restored backup, manual reset).
    MailboxCursor.objects.filter(sender=sender).update(last_uid=0)
    assert mailbox_poll(sender=sender) == 1
    assert InboundEvent.objects.count() == 3
    assert sorted(process_all()) == ["auto_reply", "reply", "unmatched"]
    enrollment.refresh_from_db()
    assert enrollment.state == "replied"
    assert Message.objects.filter(direction="in").count() == 2


def test_a_uidvalidity_change_rescans_without_duplicates(lead, imap):
    sender, _, ours = lead
    imap.state.append(MAILBOX, out_of_office(ours.provider_message_id))
    imap.state.append(MAILBOX, hard_bounce(returned_id=ours.provider_message_id))
    spam = imap.state.append(MAILBOX, fixture_bytes("email", "ooo_auto_submitted_auto_replied.eml"))
    assert mailbox_poll(sender=sender) == 3
    # The server rebuilt the mailbox (one mail gone): new UIDVALIDITY, UIDs from 1 again. The
    # new reply gets UID 3, no higher than the old cursor's: only the rescan finds it.
    imap.state.delete(MAILBOX, spam)
    imap.state.renumber(MAILBOX, uidvalidity=8)
    assert imap.state.append(MAILBOX, reply_by_references(ours.provider_message_id)) == 3
    imap.state.fetched = 0
    assert mailbox_poll(sender=sender) == 1
    assert imap.state.fetched == 3  # all of it was read again
    assert InboundEvent.objects.count() == 4
    assert sorted(process_all()) == ["auto_reply", "bounce", "reply", "unmatched"]
    cursor = MailboxCursor.objects.get(sender=sender)
    assert (cursor.uidvalidity, cursor.last_uid) == (8, 3)


def test_a_wrong_password_is_a_mailbox_error_and_moves_nothing(lead, imap):
    sender, _, ours = lead
    imap.state.append(MAILBOX, reply_by_references(ours.provider_message_id))
    sender.credentials = "wrong"
    with pytest.raises(MailboxError):
        mailbox_poll(sender=sender)
    assert not InboundEvent.objects.exists()
    assert MailboxCursor.objects.get(sender=sender).last_uid == 0
