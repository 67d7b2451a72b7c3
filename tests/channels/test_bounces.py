"""Bounces, delay warnings and spam complaints, each replayed as real-shaped mail through the
signed inbound-email webhook (tests/fixtures/inbound/email/bounces/README.md lists them with
their sources): a hard bounce or a complaint suppresses the address for every later campaign
and every re-created contact; soft bounces count; a delay warning changes nothing; an SMTP 5xx
on RCPT is a hard bounce at send time."""

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core import mail
from django.utils import timezone

from campaigns.dispatch import enrollments_materialize
from campaigns.services import campaign_launch, enrollments_create
from contacts.models import Contact, Identity, Suppression
from contacts.services import suppressions_matching
from outreach.models import Message, SenderAccount
from outreach.sending.create import conversations_for, messages_create
from outreach.sending.deliver import MAX_TRANSIENT_ATTEMPTS, message_send
from tests import factories
from tests.channels.helpers import deliver, email_sent, platform_sender, process_all
from tests.channels.smtp import SmtpServer

pytestmark = pytest.mark.django_db

CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "inbound" / "email" / "bounces"


@dataclass
class Row:
    file: str
    outcome: str
    mailbox: str
    address: str
    returned_id: str


def _corpus() -> list[Row]:
    """The table of the corpus README: one row per mail."""
    rows = []
    for line in (CORPUS / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and cells[0].endswith(".eml"):
            rows.append(Row(*cells[:5]))
    return rows


ROWS = _corpus()
PROCESSED = {
    "hard": "bounce",
    "soft": "bounce",
    "delayed": "delayed: not a bounce",
    "complaint": "complaint",
    "opt_out": "opt_out",
}


def _lead(mailbox: str, address: str, first_name: str = "Lead"):
    sender = SenderAccount.objects.filter(handle=mailbox).first() or platform_sender(
        "email", mailbox
    )
    contact = Contact.objects.create(first_name=first_name)
    identity = Identity.objects.create(contact=contact, channel="email", value=address)
    return conversations_for({(identity.id, sender.id)})[(identity.id, sender.id)]


def _new_campaign_message(sender, address: str) -> Message:
    """The address comes back: the old contact deleted, a new one imported with it, and a
    new campaign started for it. Returns that campaign's message after a send attempt."""
    Contact.objects.filter(identities__channel="email", identities__value=address).delete()
    contact = Contact.objects.create(first_name="Again")
    Identity.objects.create(contact=contact, channel="email", value=address)
    campaign = factories.campaign(senders=[sender], name=f"Later {address}")
    enrollments_create(campaign=campaign, contacts=[contact])
    campaign_launch(campaign=campaign, confirm_warnings=True)
    enrollments_materialize(now=timezone.now())
    message = Message.objects.get(direction="out", conversation__identity__contact=contact)
    message_send(message_id=message.id)
    message.refresh_from_db()
    return message


def _replay(client, row: Row, ours: Message, **replace: bytes) -> int:
    raw = (CORPUS / row.file).read_bytes()
    if row.returned_id:
        raw = raw.replace(row.returned_id.encode(), ours.provider_message_id.encode())
    for old, new in replace.items():
        raw = raw.replace(old.encode(), new)
    return deliver(client, "email", raw)


@pytest.mark.parametrize("row", ROWS, ids=[r.file for r in ROWS])
def test_each_bounce_delay_and_complaint_mail_has_its_outcome(client, platform_channels, row):
    conv = _lead(row.mailbox, row.address)
    ours = email_sent(conv)
    today = timezone.localdate().isoformat()

    assert _replay(client, row, ours) == 200
    assert process_all() == [PROCESSED[row.outcome]]

    ours.refresh_from_db()
    suppression = suppressions_matching(row.address, "email").first()
    identity = conv.identity
    identity.refresh_from_db()
    if row.outcome == "hard":
        assert suppression is not None and suppression.reason == f"address bounced on {today}"
        assert ours.status == "failed" and ours.error_code.startswith("bounce_")
    elif row.outcome == "soft":
        assert suppression is None
        assert ours.status == "queued"  # sent again later (test_suppression_gaps.py)
        assert ours.error_code in ("bounce_4.0.0", "bounce_5.2.2")
    elif row.outcome == "delayed":
        assert suppression is None
        assert ours.status == "sent"
    elif row.outcome == "complaint":
        assert suppression is not None and suppression.reason == f"spam complaint on {today}"
        assert identity.opted_out_at is not None
    else:  # opt_out
        assert identity.opted_out_at is not None
    if row.outcome in ("hard", "complaint"):
        later = _new_campaign_message(conv.sender, row.address)
        assert later.status == "cancelled"
        assert later.hold_reason == f"suppressed: {suppression.reason}"
        assert len(mail.outbox) == 1  # only the first message ever went out


def test_a_bounce_from_another_mailbox_without_our_message_id_suppresses_nobody(
    client, platform_channels
):
    """Matching by the failed address alone needs the report to come to the mailbox our
    message to that address went from: anyone can mail a report naming any address."""
    [row] = [r for r in ROWS if r.file == "x_failed_recipients_only.eml"]
    ours = email_sent(_lead(row.mailbox, row.address))
    platform_sender("email", "other@acme.example")
    assert _replay(client, row, ours, **{"To: sales@acme.example": b"To: other@acme.example"})
    assert process_all() == ["unmatched"]
    assert not Suppression.objects.exists()


def test_soft_bounces_up_to_the_limit_suppress_the_address(client, platform_channels, settings):
    settings.SOFT_BOUNCE_LIMIT = 3
    [row] = [r for r in ROWS if r.file == "soft_aol_mailbox_full_5.2.2.eml"]
    conv = _lead(row.mailbox, row.address)
    for n in range(3):
        ours = email_sent(conv)
        # Each report is its own mail: its own Message-ID.
        own_id = {"<20110729080856.AAB7C3800008A@": f"<{n}-20110729080856@".encode()}
        assert _replay(client, row, ours, **own_id) == 200
        assert process_all() == ["bounce"]
        suppressed = suppressions_matching(row.address).exists()
        assert suppressed == (n == 2)
    later = _new_campaign_message(conv.sender, row.address)
    assert later.hold_reason.startswith("suppressed: address bounced on ")


@pytest.fixture
def smtp_server(settings):
    server = SmtpServer().start()
    settings.OUTREACH_CHANNELS = {
        **settings.OUTREACH_CHANNELS,
        "email": {"BACKEND": "outreach.channels.email.backend.EmailChannel", "OPTIONS": {}},
    }
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield server
    server.stop()


def test_an_smtp_550_on_rcpt_suppresses_the_address_at_send_time(smtp_server):
    smtp_server.refuse["lead1@example.com"] = "550 5.1.1 <lead1@example.com>: User unknown"
    sender = platform_sender("email", "anna@acme.example")
    contacts = [factories.contact(1), factories.contact(2)]
    campaign = factories.campaign(senders=[sender])
    enrollments_create(campaign=campaign, contacts=contacts)
    campaign_launch(campaign=campaign, confirm_warnings=True)
    enrollments_materialize(now=timezone.now())
    for message in Message.objects.filter(direction="out").order_by("id"):
        message_send(message_id=message.id)
    gone, fine = Message.objects.filter(direction="out").order_by("conversation__identity__value")
    assert (gone.status, gone.error_code) == ("failed", "bounce_5.1.1")
    assert fine.status == "sent"
    assert [r.recipients for r in smtp_server.received] == [["lead2@example.com"]]
    today = timezone.localdate().isoformat()
    assert suppressions_matching("lead1@example.com").get().reason == (
        f"address bounced on {today}"
    )
    later = _new_campaign_message(sender, "lead1@example.com")
    assert later.hold_reason == f"suppressed: address bounced on {today}"


def test_an_smtp_4xx_on_rcpt_retries_that_message_alone_and_suppresses_nothing(smtp_server):
    smtp_server.refuse["lead1@example.com"] = "452 4.2.2 Mailbox full, try again later"
    conv = _lead("anna@acme.example", "lead1@example.com")
    [m] = messages_create(
        [
            Message(
                conversation=conv,
                sender=conv.sender,
                channel="email",
                direction="out",
                status="queued",
                subject="Quick question",
                body="Hi",
            )
        ]
    )
    assert message_send(message_id=m.id) == "queued"
    m.refresh_from_db()
    assert m.not_before is not None and m.not_before > timezone.now()
    assert m.error_code == "soft_bounce_452"
    assert not Suppression.objects.exists()
    conv.sender.refresh_from_db()
    assert conv.sender.backoff_until is None  # one full mailbox does not slow the sender


def test_sender_health_shows_its_bounces_and_complaints(client, platform_channels, admin_user):
    sender = platform_sender("email", "sales@acme.example")
    rows = {r.file: r for r in ROWS}
    bounced, complained = (
        rows["text_qmail_no_mailbox.eml"],
        rows["complaint_hotmail_jmrp_without_arf.eml"],
    )
    contacts = []
    for n, row in enumerate((bounced, complained)):
        contact = factories.contact(n + 1, channels=())
        Identity.objects.create(contact=contact, channel="email", value=row.address)
        contacts.append(contact)
    campaign = factories.campaign(senders=[sender])
    enrollments_create(campaign=campaign, contacts=contacts)
    campaign_launch(campaign=campaign, confirm_warnings=True)
    enrollments_materialize(now=timezone.now())
    for row in (bounced, complained):
        ours = Message.objects.get(direction="out", conversation__identity__value=row.address)
        assert message_send(message_id=ours.id) == "sent"
        ours.refresh_from_db()
        assert _replay(client, row, ours) == 200
    assert process_all() == ["bounce", "complaint"]

    client.force_login(admin_user)
    response = client.get(f"/campaigns/{campaign.pk}/?export=senders")
    header, line = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    health = dict(zip(header, line, strict=True))
    assert (health["bounces (30 d)"], health["complaints (30 d)"]) == ("1", "1")


def test_a_recipient_deferred_on_every_retry_counts_as_a_soft_bounce(smtp_server, settings):
    settings.SOFT_BOUNCE_LIMIT = 1
    smtp_server.refuse["lead1@example.com"] = "452 4.2.2 Mailbox full, try again later"
    conv = _lead("anna@acme.example", "lead1@example.com")
    [m] = messages_create(
        [
            Message(
                conversation=conv,
                sender=conv.sender,
                channel="email",
                direction="out",
                status="queued",
                subject="Quick question",
                body="Hi",
            )
        ]
    )
    outcomes = []
    for _ in range(MAX_TRANSIENT_ATTEMPTS):
        Message.objects.filter(id=m.id).update(not_before=None)  # its retry time came
        outcomes.append(message_send(message_id=m.id))
    assert outcomes == ["queued"] * (MAX_TRANSIENT_ATTEMPTS - 1) + ["failed"]
    today = timezone.localdate().isoformat()
    assert suppressions_matching("lead1@example.com").get().reason == (
        f"address bounced on {today}"
    )
