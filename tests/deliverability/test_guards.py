"""Bounce and complaint guards (issue #20 item 3): an ARF complaint through the signed
inbound-email webhook counts against its sender; rates past pause pause the sender with the
reason and since when, between warn and pause the next send waits longer, too few sends
count for nothing, a sender's own thresholds are respected, and a Microsoft 5.7.515
refusal from the SMTP server pauses the sender with the fix.

The sender's earlier week of sends is written as history rows (tests/deliverability/helpers.py)."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from contacts.models import Identity, Suppression
from core.audit import AuditEntry
from deliverability.models import SenderGuard
from outreach.models import Message, SenderAccount
from outreach.sending.control import sender_resume
from outreach.sending.deliver import message_send
from tests.channels.helpers import deliver, email_sent, hard_bounce, platform_sender, process_all
from tests.deliverability.helpers import lead_conversation, queued_email, sent_earlier

pytestmark = pytest.mark.django_db

BOUNCES = Path(__file__).resolve().parents[1] / "fixtures" / "inbound" / "email" / "bounces"
# RFC 5965 appendix B's example (tests/fixtures/inbound/email/bounces/README.md).
ARF = BOUNCES / "complaint_arf_rfc5965.eml"
ARF_RETURNED_ID = "<8787KJKJ3K4J3K4J3K4J3.mail@example.net>"
MAILBOX, COMPLAINANT = "sales@acme.example", "somebody@example.net"


def _complaint_about(client, ours: Message) -> None:
    raw = ARF.read_bytes().replace(ARF_RETURNED_ID.encode(), ours.provider_message_id.encode())
    assert deliver(client, "email", raw) == 200
    assert process_all() == ["complaint"]


def _complained(client, earlier: int, **guard) -> SenderAccount:
    sender = platform_sender("email", MAILBOX)
    sender.min_gap_seconds = sender.max_gap_seconds = 60.0
    sender.save(update_fields=["min_gap_seconds", "max_gap_seconds"])
    if guard:
        SenderGuard.objects.create(sender=sender, **guard)
    sent_earlier(sender, earlier)
    ours = email_sent(lead_conversation(sender, COMPLAINANT))
    _complaint_about(client, ours)
    sender.refresh_from_db()
    return sender


def test_an_arf_report_records_a_complaint_and_opts_out_but_few_sends_do_not_pause(
    client, email_channel
):
    sender = _complained(client, earlier=49)  # 1 complaint in 50 sends: 2%, but only 50

    identity = Identity.objects.get(value=COMPLAINANT)
    assert identity.opted_out_at is not None
    assert identity.opt_out_source == "email spam complaint"
    complaint = Message.objects.get(direction="in", sender=sender)
    assert list(complaint.events.values_list("detail", flat=True)) == ["complaint"]
    assert not sender.paused and sender.gap_factor == 1.0


def test_a_complaint_rate_past_pause_pauses_the_sender_with_reason_and_since(client, email_channel):
    sender = _complained(client, earlier=299)  # 1 in 300: 0.33%

    now = timezone.now()
    assert sender.paused and sender.health == "degraded"
    assert sender.paused_reason == (
        f"Paused {now.day} {now:%b %H:%M}: complaint rate 0.33% over the last 7 days (limit 0.3%)"
    )
    assert SenderGuard.objects.get(sender=sender).paused_at is not None
    # Its queued messages hold with that reason.
    queued = queued_email(sender, "next@example.org")
    assert message_send(message_id=queued.id) == "skipped"  # not claimed
    queued.refresh_from_db()
    assert queued.hold_reason == f"sender paused: {sender.paused_reason}"
    # Resuming is audited.
    sender_resume(sender=sender)
    assert AuditEntry.objects.filter(action="sender.resume").exists()


def test_a_complaint_rate_between_warn_and_pause_makes_the_next_send_wait_longer(
    client, email_channel
):
    sender = _complained(client, earlier=399)  # 1 in 400: 0.25%, over warn 0.1%

    assert not sender.paused
    assert sender.gap_factor == 3.5  # 1 + 0.25 / 0.1
    before = timezone.now()
    # A minute later, when the complained-about message's own gap is over:
    SenderAccount.objects.filter(id=sender.id).update(next_send_at=None)
    email_sent(lead_conversation(sender, "next@example.org"))
    sender.refresh_from_db()
    # The gap is 60 s; slowed 3.5 times, the next send waits 210 s.
    assert sender.next_send_at >= before + timedelta(seconds=209)


def test_a_senders_own_thresholds_are_respected(client, email_channel):
    sender = _complained(client, earlier=299, complaint_warn=0.5, complaint_pause=1.0)
    assert not sender.paused and sender.gap_factor == 1.0  # 0.33% is under its own warn

    other = platform_sender("email", "anna@other.example")
    SenderGuard.objects.create(sender=other, bounce_warn=1.0, bounce_pause=2.0, min_sends=20)
    sent_earlier(other, 19)
    ours = email_sent(lead_conversation(other, "lead1@example.com"))
    raw = hard_bounce("lead1@example.com", ours.provider_message_id)
    assert deliver(client, "email", raw) == 200
    assert process_all() == ["bounce"]
    other.refresh_from_db()
    assert other.paused
    assert "hard-bounce rate 5% over the last 7 days (limit 2%)" in other.paused_reason


def test_microsoft_5_7_515_pauses_the_sender_with_the_fix(smtp_server):
    smtp_server.answers["DATA"] = (
        "550 5.7.515 Access denied, sending domain acme.example doesn't meet the required "
        "authentication level."
    )
    sender = platform_sender("email", MAILBOX)
    message = queued_email(sender, "kim@outlook.example", subject="Hello")
    assert message_send(message_id=message.id) == "failed"
    sender.refresh_from_db()
    assert sender.paused
    assert sender.paused_reason.endswith(
        "refused as unauthenticated (5.7.515: publish SPF and DKIM for acme.example and "
        "align DMARC; see Sending domains)"
    )
    assert not Suppression.objects.exists()  # the recipient did nothing wrong


def test_gmail_5_7_26_on_rcpt_pauses_the_sender_and_spares_the_recipient(smtp_server):
    smtp_server.refuse["kim@gmail.example"] = (
        "550 5.7.26 Unauthenticated email from acme.example is not accepted due to domain's "
        "DMARC policy."
    )
    sender = platform_sender("email", MAILBOX)
    message = queued_email(sender, "kim@gmail.example", subject="Hello")
    assert message_send(message_id=message.id) == "failed"
    sender.refresh_from_db()
    assert sender.paused
    assert "(5.7.26: publish SPF and DKIM for acme.example and align DMARC" in sender.paused_reason
    assert not Suppression.objects.exists()
    assert Identity.objects.get(value="kim@gmail.example").opted_out_at is None
