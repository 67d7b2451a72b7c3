"""An erased person who had opted out is never contacted again: only a peppered hash of
their address remains, which a later import and the send path both check."""

from django.db import connection

from campaigns.privacy import contact_erase
from contacts.models import Contact, Identity, Suppression
from contacts.services import ERASED_REASON, address_suppress, identity_opt_out
from outreach.models import Conversation, Message
from outreach.sending.deliver import message_send
from tests import factories
from tests.contacts.conftest import run_file

EMAIL = "zelda.q@hyrule.example"


def _erase_an_opted_out_contact():
    contact = factories.contact(1, first_name="Zelda")
    identity = contact.identities.get()
    Identity.objects.filter(pk=identity.pk).update(value=EMAIL)
    identity.refresh_from_db()
    identity_opt_out(identity=identity, source="unsubscribe link")
    address_suppress(channel="email", value=EMAIL, reason="unsubscribed")
    contact_erase(contact=contact)


def _queued_to(identity: Identity) -> Message:
    sender = factories.sender()
    conversation = Conversation.objects.create(identity=identity, sender=sender)
    return Message.objects.create(
        conversation=conversation,
        sender=sender,
        channel="email",
        body="Hello again",
        status=Message.Status.QUEUED,
    )


def test_erasure_keeps_no_plaintext_address(db):
    _erase_an_opted_out_contact()
    assert Suppression.objects.get().reason == ERASED_REASON
    with connection.cursor() as cursor:
        cursor.execute("SELECT contacts_suppression::text FROM contacts_suppression")
        (row,) = cursor.fetchone()
    assert EMAIL not in row and "zelda" not in row.lower()


def test_a_reimported_erased_address_is_opted_out_and_never_sent(db, tmp_path):
    _erase_an_opted_out_contact()
    csv = tmp_path / "again.csv"
    csv.write_text(f"email,first_name\n{EMAIL.upper()},Zelda\nnew.lead@example.com,Link\n")
    imp = run_file(csv, mapping=["email", "first_name"])
    assert imp.status == "done", imp.message

    again = Identity.objects.get(channel="email", value=EMAIL)
    assert again.opted_out_at is not None and again.opt_out_source == "suppressed after erasure"
    fresh = Identity.objects.get(value="new.lead@example.com")
    assert fresh.opted_out_at is None  # only the erased address is suppressed

    # The send path checks the hash itself, whatever path created the identity.
    Identity.objects.filter(pk=again.pk).update(opted_out_at=None, opt_out_source="")
    Contact.objects.filter(pk=again.contact_id).update(opted_out_at=None)
    message = _queued_to(again)
    message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.status == Message.Status.CANCELLED
    assert "erased" in message.hold_reason
    assert message.sent_at is None
