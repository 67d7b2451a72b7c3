"""Opt-outs and bounces at their edges, each on the production path: a one-click
unsubscribe stops the contact's sequences at once; suppression entries keep no plaintext
address yet every check still finds them; a reported soft bounce is re-sent with backoff
until SOFT_BOUNCE_LIMIT makes it hard."""

import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from campaigns.counters import counters_rebuild
from campaigns.dispatch import enrollments_materialize
from campaigns.models import Enrollment
from campaigns.services import campaign_launch, enrollments_create
from campaigns.stats_models import CampaignDayStats
from contacts.models import Contact, Identity
from contacts.services import suppressions_matching
from outreach.channels.email.backend import unsubscribe_url
from outreach.models import Message, MessageEvent, SenderAccount
from outreach.sending.deliver import message_send
from tests import factories
from tests.channels.helpers import deliver, platform_sender, process_all

pytestmark = pytest.mark.django_db

ADDRESS = "lead1@example.com"


def _campaign_for(
    address: str, steps=(("email", 0), ("email", 60)), mailbox: str = "sales@acme.example"
):
    """A launched campaign whose first message to ``address`` is queued; (enrollment, it).
    ``mailbox``: our sender's address, the one the corpus' bounces are sent to."""
    sender = SenderAccount.objects.filter(handle=mailbox).first() or platform_sender(
        "email", mailbox
    )
    contact = Contact.objects.create(first_name="Lead")
    Identity.objects.create(contact=contact, channel="email", value=address)
    campaign = factories.campaign(senders=[sender], steps=steps)
    enrollments_create(campaign=campaign, contacts=[contact])
    campaign_launch(campaign=campaign, confirm_warnings=True)
    enrollments_materialize(now=timezone.now())
    enrollment = Enrollment.objects.get(contact=contact)
    return enrollment, Message.objects.get(direction="out", conversation__identity__contact=contact)


def _one_click(client, address: str) -> int:
    path = unsubscribe_url(address).split("://", 1)[1].split("/", 1)[1]
    response = client.post(
        f"/{path}",
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    return response.status_code


def test_a_one_click_unsubscribe_stops_the_running_sequence_at_once(client, platform_channels):
    enrollment, queued = _campaign_for(ADDRESS)
    assert queued.status == Message.Status.QUEUED

    assert _one_click(client, ADDRESS) == 200

    enrollment.refresh_from_db()
    queued.refresh_from_db()
    assert enrollment.state == Enrollment.State.STOPPED
    assert enrollment.hold_reason == "contact opted out of Email"
    assert queued.status == Message.Status.CANCELLED
    message_send(message_id=queued.id)  # the dispatcher's batch still holding its id
    queued.refresh_from_db()
    assert queued.status == Message.Status.CANCELLED and queued.sent_at is None


# --- suppression entries keep only a hash ----------------------------------------------------

BOUNCES = Path(__file__).resolve().parent.parent / "fixtures" / "inbound" / "email" / "bounces"
# (corpus file, the address it reports, the Message-ID of ours it returns)
HARD = ("text_qmail_no_mailbox.eml", "jane.doe@example.net", "6f1f5c2e-0000-4000-8000-000000000001")
COMPLAINT = (
    "complaint_hotmail_jmrp_without_arf.eml",
    "kim.annoyed@hotmail.example",
    "6f1f5c2e-0000-4000-8000-000000000005",
)


def _sent_to(address: str, mailbox: str = "sales@acme.example") -> Message:
    """A one-step campaign's message to ``address``, sent."""
    _, message = _campaign_for(address, steps=(("email", 0),), mailbox=mailbox)
    assert message_send(message_id=message.id) == "sent"
    message.refresh_from_db()
    return message


def _replay(client, corpus: tuple[str, str, str], ours: Message, own_id: bytes = b"") -> int:
    """The corpus mail reporting ``ours``; ``own_id``: a new Message-ID for the report."""
    file, _, returned_id = corpus
    raw = (BOUNCES / file).read_bytes()
    raw = raw.replace(returned_id.encode(), ours.provider_message_id.strip("<>").encode())
    if own_id:
        raw = raw.replace(b"Message-Id: <20110729080856.AAB7C3800008A@", own_id)
    return deliver(client, "email", raw)


def _held_in_a_new_campaign(address: str) -> Message:
    """The address comes back: its old contact deleted, a new one imported with it, and a
    new campaign started for it. That campaign's message after a send attempt."""
    Contact.objects.filter(identities__channel="email", identities__value=address).delete()
    _, message = _campaign_for(address, steps=(("email", 0),))
    message_send(message_id=message.id)
    message.refresh_from_db()
    return message


def _stored_rows() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT contacts_suppression::text FROM contacts_suppression")
        return [row.lower() for (row,) in cursor.fetchall()]


def test_bounced_complained_and_unsubscribed_addresses_are_kept_only_hashed_yet_held(
    client, platform_channels
):
    bounced, complained = _sent_to(HARD[1]), _sent_to(COMPLAINT[1])
    _sent_to(ADDRESS)
    assert _replay(client, HARD, bounced) == 200
    assert _replay(client, COMPLAINT, complained) == 200
    assert process_all() == ["bounce", "complaint"]
    assert _one_click(client, ADDRESS) == 200

    rows = _stored_rows()
    assert len(rows) == 3
    for address in (HARD[1], COMPLAINT[1], ADDRESS):
        assert not [row for row in rows if address in row or address.split("@")[0] in row]

    today = timezone.localdate().isoformat()
    for address, reason in [
        (HARD[1], f"suppressed: address bounced on {today}"),
        (COMPLAINT[1], f"suppressed: spam complaint on {today}"),
        (ADDRESS, f"suppressed: opted out (one-click unsubscribe) on {today}"),
    ]:
        again = _held_in_a_new_campaign(address)
        assert (again.status, again.hold_reason) == (Message.Status.CANCELLED, reason)
        assert again.sent_at is None


def test_the_admin_finds_a_suppressed_address_by_typing_it_and_adds_one_by_hand(
    admin_client, platform_channels
):
    added = admin_client.post(
        "/admin/contacts/suppression/add/",
        {"address": "Legal.Hold@Example.com", "channel": "email", "reason": "court order"},
    )
    assert added.status_code == 302, added.content.decode()[:2000]
    assert "legal.hold" not in " ".join(_stored_rows())

    found = admin_client.get("/admin/contacts/suppression/", {"q": "legal.hold@example.com"})
    assert "court order" in found.content.decode()
    other = admin_client.get("/admin/contacts/suppression/", {"q": "someone.else@example.com"})
    assert "court order" not in other.content.decode()
    again = admin_client.post(
        "/admin/contacts/suppression/add/",
        {"address": "legal.hold@example.com", "channel": "email", "reason": "twice"},
    )
    assert "already suppressed" in again.content.decode()

    held = _held_in_a_new_campaign("legal.hold@example.com")
    assert (held.status, held.hold_reason) == (Message.Status.CANCELLED, "suppressed: court order")


# --- soft bounces are sent again with backoff --------------------------------------------------

SOFT = ("soft_aol_mailbox_full_5.2.2.eml", "user@aol.com", "4E326A95.3010907@example.com")
SOFT_MAILBOX = "bounce+8c8b98.c-user=aol.com@example.com"


def _counters() -> list[tuple]:
    fields = ("campaign_id", "day", "step", "variant", "sent", "delivered", "contacted", "bounced")
    rows = CampaignDayStats.objects.order_by("campaign_id", "day", "step", "variant")
    return [r for r in rows.values_list(*fields) if any(r[4:])]


def test_a_soft_bounce_sends_the_message_again_later_until_the_limit_makes_it_hard(
    client, platform_channels, settings
):
    settings.SOFT_BOUNCE_LIMIT = 3
    settings.SOFT_BOUNCE_RETRY_AFTER = 600
    ours = _sent_to(SOFT[1], mailbox=SOFT_MAILBOX)
    enrollment = Enrollment.objects.get(contact=ours.conversation.identity.contact)
    assert enrollment.state == Enrollment.State.COMPLETED  # its one step went out

    for n, wait in [(1, 600), (2, 1200)]:
        before = timezone.now()
        report = f"Message-Id: <{n}-20110729080856@".encode()
        assert _replay(client, SOFT, ours, own_id=report) == 200
        # The same report delivered again (a retried webhook) changes nothing more.
        assert _replay(client, SOFT, ours, own_id=report) == 200
        assert process_all() in (["bounce"], ["bounce", "duplicate message"])

        ours.refresh_from_db()
        enrollment.refresh_from_db()
        assert ours.status == Message.Status.QUEUED and ours.sent_at is None
        assert before + timedelta(seconds=wait) <= ours.not_before
        assert ours.not_before <= timezone.now() + timedelta(seconds=wait)
        assert ours.hold_reason.startswith("soft bounce (bounce_5.2.2): sending again after ")
        assert ours.hold_reason.endswith(f"(retry {n} of 2)")
        assert enrollment.state == Enrollment.State.WAITING
        assert not suppressions_matching(SOFT[1]).exists()

        # Not before its time: the send path leaves it queued.
        message_send(message_id=ours.id)
        ours.refresh_from_db()
        assert ours.status == Message.Status.QUEUED
        Message.objects.filter(id=ours.id).update(not_before=timezone.now())  # its time came
        assert message_send(message_id=ours.id) == "sent"
        ours.refresh_from_db()
        enrollment.refresh_from_db()
        assert enrollment.state == Enrollment.State.COMPLETED

    assert _replay(client, SOFT, ours, own_id=b"Message-Id: <3-20110729080856@") == 200
    assert process_all() == ["bounce"]
    ours.refresh_from_db()
    enrollment.refresh_from_db()
    assert ours.status == Message.Status.FAILED and ours.error_code == "bounce_5.2.2"
    assert not Message.objects.filter(status=Message.Status.QUEUED).exists()  # no more retries
    today = timezone.localdate().isoformat()
    assert suppressions_matching(SOFT[1]).get().reason == f"address bounced on {today}"
    assert ours.events.filter(status="sending").count() == 3  # sent three times in all

    # What the dashboards count agrees with a rebuild from the messages: three sends of
    # one step would otherwise read as three messages sent.
    counted = _counters()
    counters_rebuild()
    assert _counters() == counted
    assert [(r[4], r[6], r[7]) for r in counted] in ([(1, 0, 1), (0, 1, 0)], [(0, 1, 0), (1, 0, 1)])


# --- sender health ---------------------------------------------------------------------------


def test_sender_health_counts_each_bounce_soft_ones_included_and_complaints_by_7_and_30_days(
    client, platform_channels, admin_user, settings
):
    settings.SOFT_BOUNCE_LIMIT = 3
    soft = _sent_to(SOFT[1], mailbox=SOFT_MAILBOX)
    SenderAccount.objects.filter(handle=SOFT_MAILBOX).update(name="AOL bounces box")
    hard, complained = _sent_to(HARD[1]), _sent_to(COMPLAINT[1])
    assert _replay(client, SOFT, soft, own_id=b"Message-Id: <1-20110729080856@") == 200
    assert _replay(client, HARD, hard) == 200
    assert _replay(client, COMPLAINT, complained) == 200
    assert process_all() == ["bounce", "bounce", "complaint"]
    Message.objects.filter(id=soft.id).update(not_before=timezone.now())  # its retry came
    assert message_send(message_id=soft.id) == "sent"
    soft.refresh_from_db()
    assert _replay(client, SOFT, soft, own_id=b"Message-Id: <2-20110729080856@") == 200
    assert process_all() == ["bounce"]
    # The first soft bounce and the complaint were ten days ago.
    ten_days_ago = timezone.now() - timedelta(days=10)
    soft.events.filter(detail__endswith="(retry 1 of 2)").update(at=ten_days_ago)
    complaints = MessageEvent.objects.filter(detail="complaint").values("message_id")
    Message.objects.filter(direction="in", id__in=complaints).update(created_at=ten_days_ago)

    campaign = Enrollment.objects.get(contact=hard.conversation.identity.contact).campaign
    campaign.senders.add(soft.sender)
    client.force_login(admin_user)
    response = client.get(f"/campaigns/{campaign.pk}/?export=senders")
    header, *lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    health = {line[0]: dict(zip(header, line, strict=True)) for line in lines}
    columns = ["bounces (7 d)", "bounces (30 d)", "complaints (7 d)", "complaints (30 d)"]
    assert [health["AOL bounces box"][c] for c in columns] == ["1", "2", "0", "0"]
    assert [health[hard.sender.name][c] for c in columns] == ["1", "1", "0", "1"]
