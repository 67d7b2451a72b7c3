"""An unsubscribe request, wherever it is written (the subject only, the body only, any case,
English or German) or a mail client's unsubscribe button mail, goes through the one opt-out
service: the contact is opted out, the address suppressed, the decision recorded and
audited, the sequence stopped; a contact re-imported later with that address is never sent
to. Replayed through the signed inbound-email webhook."""

import pytest

from contacts.models import ConsentRecord, Contact, Identity, Suppression
from contacts.services import suppressions_matching
from core.audit import AuditEntry
from outreach.channels.email.backend import unsubscribe_url
from outreach.models import Conversation, Message
from outreach.sending.deliver import message_send
from tests.channels.helpers import deliver, email_lead, email_sent, platform_sender, process_all
from tests.contacts.conftest import run_file

pytestmark = pytest.mark.django_db

ADDRESS = "lead1@example.com"


@pytest.fixture
def ours(platform_channels):
    conv, enrollment = email_lead(platform_sender("email", "anna@acme.example"))
    return email_sent(conv, body="Hi Lead1, are you interested?"), enrollment


def _mail(our_id: str, *, subject: str, body: str, extra: str = "", mid: str = "r1") -> bytes:
    return (
        f"From: Lead One <{ADDRESS}>\r\nTo: anna@acme.example\r\nSubject: {subject}\r\n"
        f"Message-ID: <{mid}@example.com>\r\nIn-Reply-To: {our_id}\r\n{extra}"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


def _assert_opted_out_and_suppressed(enrollment):
    identity = Identity.objects.get(channel="email", value=ADDRESS)
    assert identity.opted_out_at is not None
    suppression = suppressions_matching(ADDRESS, "email").get()
    assert "opted out" in suppression.reason
    assert ConsentRecord.objects.filter(identity=identity, kind="opted_out").exists()
    assert AuditEntry.objects.filter(action="contact.opt_out", target_id=identity.contact_id)
    enrollment.refresh_from_db()
    assert enrollment.state == "stopped"


@pytest.mark.parametrize(
    "subject",
    [
        "UnSubscribe",
        "RE: Quick question - please UNSUBSCRIBE me",
        "AW: Bitte ABMELDEN",
        "Austragen",
    ],
)
def test_an_unsubscribe_in_the_subject_only_opts_out_and_suppresses(client, ours, subject):
    message, enrollment = ours
    raw = _mail(message.provider_message_id, subject=subject, body="Thanks, have a good day.")
    assert deliver(client, "email", raw) == 200
    assert process_all() == ["opt_out"]
    _assert_opted_out_and_suppressed(enrollment)


@pytest.mark.parametrize(
    "body",
    [
        "Please remove me from your list.",
        "Bitte tragen Sie mich aus, ich möchte keine weiteren Nachrichten.",
        "Hallo,\n\nbitte keine weiteren E-Mails mehr.\n\nGruß\nLead",
    ],
)
def test_an_unsubscribe_in_the_body_only_opts_out_and_suppresses(client, ours, body):
    message, enrollment = ours
    raw = _mail(message.provider_message_id, subject="Re: Quick question", body=body)
    assert deliver(client, "email", raw) == 200
    assert process_all() == ["opt_out"]
    _assert_opted_out_and_suppressed(enrollment)


def test_an_apple_mail_unsubscribe_mail_is_an_opt_out_despite_auto_submitted(client, ours):
    _, enrollment = ours
    raw = (
        f"From: Lead One <{ADDRESS}>\r\nTo: anna@acme.example\r\nSubject: \r\n"
        "Message-ID: <B2C1A0-apple@example.com>\r\nAuto-Submitted: auto-replied\r\n"
        "X-Mailer: iPhone Mail (21F90)\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        'Apple Mail sent this email to unsubscribe from the message "Quick question".\r\n'
    ).encode()
    assert deliver(client, "email", raw) == 200
    assert process_all() == ["opt_out"]
    _assert_opted_out_and_suppressed(enrollment)


def test_an_ordinary_reply_mentioning_stop_is_not_an_opt_out(client, ours):
    message, enrollment = ours
    raw = _mail(
        message.provider_message_id,
        subject="Re: Quick question",
        body="Sure, stop by our booth on Tuesday.",
    )
    assert deliver(client, "email", raw) == 200
    assert process_all() == ["reply"]
    assert not Suppression.objects.exists()


def test_a_reimported_contact_with_an_unsubscribed_address_is_never_contacted(
    client, ours, tmp_path
):
    message, _ = ours
    raw = _mail(message.provider_message_id, subject="Abmelden", body="Danke.")
    assert deliver(client, "email", raw) == 200
    assert process_all() == ["opt_out"]
    Contact.objects.filter(identities__value=ADDRESS).delete()  # a rep cleaned up the list

    csv = tmp_path / "again.csv"
    csv.write_text(f"email,first_name\n{ADDRESS.upper()},Lead\n")
    imp = run_file(csv, mapping=["email", "first_name"])
    assert imp.status == "done", imp.message
    again = Identity.objects.get(channel="email", value=ADDRESS)
    conversation = Conversation.objects.create(identity=again, sender=message.sender)
    queued = Message.objects.create(
        conversation=conversation,
        sender=message.sender,
        channel="email",
        direction="out",
        body="Hello again",
        status=Message.Status.QUEUED,
    )
    message_send(message_id=queued.pk)
    queued.refresh_from_db()
    assert queued.status == Message.Status.CANCELLED
    assert queued.hold_reason.startswith("suppressed: opted out (email reply)")
    assert queued.sent_at is None


def test_a_one_click_unsubscribe_is_recorded_and_audited_like_a_reply(client, ours):
    url = unsubscribe_url(ADDRESS)
    path = url.split("://", 1)[1].split("/", 1)[1]
    response = client.post(
        f"/{path}",
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    identity = Identity.objects.get(channel="email", value=ADDRESS)
    assert identity.opted_out_at is not None
    assert "opted out (one-click unsubscribe)" in suppressions_matching(ADDRESS).get().reason
    assert ConsentRecord.objects.filter(identity=identity, source="one-click unsubscribe")
    assert AuditEntry.objects.filter(action="contact.opt_out", target_id=identity.contact_id)
