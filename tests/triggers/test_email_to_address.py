"""Email to a given address as an entry trigger: an unknown person writing to leads@ (read by
the IMAP poller from a real IMAP peer on a loopback socket, or posted to the signed inbound
email webhook) becomes a contact with an email identity, tagged, consented, enrolled, with a
deal and an owner. Auto-replies and bounces never fire."""

import pytest

from campaigns.models import Enrollment
from campaigns.triggers.models import TriggerFire
from contacts.models import ConsentRecord, Contact, Identity, Tag
from core.teams import Team
from outreach.mailbox import mailbox_poll
from outreach.models import InboundEvent, Message
from pipelines.models import Deal
from tests.channels.conftest import fixture_bytes
from tests.channels.helpers import (
    deliver,
    fake_mailbox,
    mailbox_sender,
    process_all,
)
from tests.triggers import helpers

pytestmark = pytest.mark.django_db
MAILBOX, PASSWORD, LEADS = "anna@ourcompany.example", "imap-pass", "leads@ourcompany.example"


@pytest.fixture
def mailbox(platform_channels, imap_server):
    """Anna's mailbox, polled over IMAP; leads@ is an alias delivered into it."""
    fake_mailbox(imap_server, MAILBOX, PASSWORD, uidvalidity=3)
    return mailbox_sender(imap_server, MAILBOX, PASSWORD), imap_server.state


def first_email(*, sender: str = "Maria Lopez <maria.lopez@example.org>", to: str = LEADS):
    """A real Outlook-style mail with no threading headers: the person writes first."""
    raw = fixture_bytes("email", "reply_outlook_style_quoted_no_threading_headers.eml")
    raw = raw.replace(b"From: me@example.com", f"From: {sender}".encode())
    raw = raw.replace(b"To: you@example.com", f"To: Acme Leads <{to}>".encode())
    raw = raw.replace(b"Subject: Test", b"Subject: Pricing for 20 seats?")
    return (
        f"Delivered-To: {MAILBOX}\nMessage-ID: <first-{hash(sender)}@example.org>\n".encode() + raw
    )


def test_email_to_leads_address_creates_contact_and_enrols(mailbox, django_user_model):
    sender, imap = mailbox
    rep = django_user_model.objects.create_user("rep-ines")
    team = Team.objects.create(name="Inbound desk")
    team.members.set([rep])
    inbound = Tag.objects.create(name="inbound-email")
    camp = helpers.campaign([sender], (("email", 0), ("email", 86400)))
    new_lead = helpers.stage("New lead")
    trigger = helpers.trigger(
        name="Leads inbox",
        channel="email",
        event_type="email",
        address=LEADS,
        match="any",
        tags=[inbound],
        campaign=camp,
        deal_stage=new_lead,
        assign_team=team,
    )
    imap.append(MAILBOX, first_email())
    assert mailbox_poll(sender=sender) == 1
    assert process_all() == ["reply"]

    identity = Identity.objects.get(channel="email")
    contact = identity.contact
    assert identity.value == "maria.lopez@example.org"
    assert (contact.first_name, contact.last_name) == ("Maria", "Lopez")
    assert list(contact.tags.values_list("name", flat=True)) == ["inbound-email"]
    assert ConsentRecord.objects.filter(identity=identity, kind="granted").exists()
    assert contact.owner_id == rep.id
    enrollment = Enrollment.objects.get(campaign=camp, contact=contact)
    assert (enrollment.current_step, enrollment.sender_id) == (1, sender.id)
    # (The default pipeline's reply rule may open a deal of its own; ours is in this one.)
    deal = Deal.objects.get(contact=contact, pipeline=new_lead.pipeline)
    assert (deal.stage, deal.owner_id) == (new_lead, rep.id)
    fire = TriggerFire.objects.get()
    assert (fire.trigger, fire.outcome, fire.new_lead) == (trigger, "fired", True)
    # What she wrote is in the inbox, in her conversation with Anna's mailbox.
    [mail] = Message.objects.filter(direction="in")
    assert (mail.conversation.identity, mail.sender, mail.subject) == (
        identity,
        sender,
        "Pricing for 20 seats?",
    )

    # She writes again: the same contact, and the trigger does not fire a second time.
    second = first_email().replace(b"Message-ID: <first-", b"Message-ID: <second-")
    imap.append(MAILBOX, second)
    assert mailbox_poll(sender=sender) == 1
    assert process_all() == ["reply"]
    assert Contact.objects.count() == 1
    assert Enrollment.objects.filter(contact=contact).count() == 1
    outcomes = TriggerFire.objects.order_by("id").values_list("outcome", flat=True)
    assert list(outcomes) == ["fired", "repeat"]


def test_auto_reply_to_leads_address_fires_nothing(client, mailbox):
    sender, _ = mailbox
    camp = helpers.campaign([sender], (("email", 0),))
    helpers.trigger(
        name="Leads inbox",
        channel="email",
        event_type="email",
        address=LEADS,
        match="any",
        campaign=camp,
    )
    ooo = fixture_bytes("email", "ooo_auto_submitted_auto_replied.eml")
    ooo = ooo.replace(b"To: neko@libsisimai.org", f"To: {LEADS}".encode())
    exchange = fixture_bytes("email", "ooo_exchange_automatic_reply_no_auto_submitted.eml")
    bounce = fixture_bytes("email", "bounce_hard_5.1.1_postfix_alias_expanded.eml")
    for raw in (ooo, exchange, bounce):
        raw = f"Delivered-To: {LEADS}\n".encode() + raw
        assert deliver(client, "email", raw) == 200
    kinds = sorted(e.payload["kind"] for e in InboundEvent.objects.all())
    assert kinds == ["auto_reply", "auto_reply", "bounce"]  # classified as such in outreach
    assert process_all() == ["unmatched"] * 3
    assert not Contact.objects.exists()
    assert not TriggerFire.objects.exists()
    assert not Enrollment.objects.exists()


def test_email_to_an_address_no_trigger_watches_creates_nothing(client, mailbox):
    sender, _ = mailbox
    helpers.trigger(
        name="Leads inbox", channel="email", event_type="email", address=LEADS, match="any"
    )
    assert deliver(client, "email", first_email(to="support@ourcompany.example")) == 200
    assert process_all() == ["unmatched"]
    # Nor does mail from our own mailbox to leads@ (a colleague forwarding, a CC).
    assert deliver(client, "email", first_email(sender=f"Anna <{MAILBOX}>")) == 200
    assert process_all() == ["unmatched"]
    assert not Contact.objects.exists()
