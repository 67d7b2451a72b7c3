"""Domain-wide pause (issue #20): a sending domain's reputation is shared by its senders, so
when they together pass a pause threshold, or a refusal names the domain's DMARC alignment
(5.7.515 / 5.7.26), every sender on the domain is paused with a reason naming the domain;
the domain page resumes them in one audited action. Earlier sends are history rows
(tests/deliverability/helpers.py)."""

import pytest
from django.urls import reverse

from core.audit import AuditEntry
from deliverability.models import SendingDomain
from outreach.models import SenderAccount
from outreach.sending.deliver import message_send
from tests.channels.helpers import deliver, email_sent, hard_bounce, platform_sender, process_all
from tests.deliverability.helpers import lead_conversation, queued_email, sent_earlier

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("boss", "b@example.com", "pw"))
    return client


def test_senders_of_a_domain_together_past_the_bounce_limit_are_all_paused_and_resumed_at_once(
    admin_client, email_channel
):
    sales = platform_sender("email", "sales@acme.example")
    anna = platform_sender("email", "anna@acme.example")
    elsewhere = platform_sender("email", "tom@other.example")
    # Neither sender alone has the 100 sends a rate needs; together they have 120.
    sent_earlier(sales, sends=60, bounces=5)
    sent_earlier(anna, sends=59, bounces=0)
    sent_earlier(elsewhere, sends=200, bounces=0)
    ours = email_sent(lead_conversation(anna, "lead1@example.com"))
    assert (
        deliver(admin_client, "email", hard_bounce("lead1@example.com", ours.provider_message_id))
        == 200
    )
    assert process_all() == ["bounce"]  # 6 hard bounces in 120 sends: 5%

    for sender in (sales, anna):
        sender.refresh_from_db()
        assert sender.paused
        assert sender.paused_reason.endswith(
            "sending domain acme.example: its senders' hard-bounce rate 5% over the last "
            "7 days (limit 5%)"
        )
    elsewhere.refresh_from_db()
    assert not elsewhere.paused
    # A queued message of the other sender holds with the domain's reason.
    queued = queued_email(sales, "next@example.org")
    assert message_send(message_id=queued.id) == "skipped"
    queued.refresh_from_db()
    assert "sending domain acme.example" in queued.hold_reason

    domain = SendingDomain.objects.create(domain="acme.example")
    page = admin_client.get(reverse("domains:detail", args=[domain.pk])).content.decode()
    assert "Sending from acme.example is paused" in page
    assert "Resume all 2 senders on acme.example" in page

    response = admin_client.post(reverse("domains:resume", args=[domain.pk]), follow=True)
    assert (
        "Resumed 2 sender(s): anna@acme.example, sales@acme.example." in response.content.decode()
    )
    assert not SenderAccount.objects.filter(paused=True).exists()
    entry = AuditEntry.objects.get(action="sending_domain.resume")
    assert entry.detail == "resumed 2 sender(s): anna@acme.example, sales@acme.example"
    queued.refresh_from_db()
    assert queued.hold_reason == ""  # offered again


def test_a_sender_paused_for_its_own_rates_is_not_resumed_with_its_domain(admin_client):
    own = platform_sender("email", "sales@acme.example")
    SenderAccount.objects.filter(id=own.id).update(
        paused=True, paused_reason="Paused 6 Dec 14:02: complaint rate 0.5% over the last 7 days"
    )
    domain = SendingDomain.objects.create(domain="acme.example")
    admin_client.post(reverse("domains:resume", args=[domain.pk]))
    own.refresh_from_db()
    assert own.paused


def test_a_5_7_26_refusal_pauses_every_sender_on_the_domain_with_the_fix(smtp_server):
    smtp_server.refuse["kim@gmail.example"] = (
        "550 5.7.26 Unauthenticated email from acme.example is not accepted due to domain's "
        "DMARC policy."
    )
    sales = platform_sender("email", "sales@acme.example")
    anna = platform_sender("email", "anna@acme.example")
    elsewhere = platform_sender("email", "tom@other.example")
    message = queued_email(sales, "kim@gmail.example")
    assert message_send(message_id=message.id) == "failed"
    for sender in (sales, anna):
        sender.refresh_from_db()
        assert sender.paused
        assert "sending domain acme.example: refused as unauthenticated (5.7.26:" in (
            sender.paused_reason
        )
    elsewhere.refresh_from_db()
    assert not elsewhere.paused


def test_a_5_7_25_refusal_pauses_only_the_sender_whose_server_has_no_reverse_dns(smtp_server):
    smtp_server.refuse["kim@gmail.example"] = (
        "550 5.7.25 The IP address sending this message does not have a PTR record setup."
    )
    sales = platform_sender("email", "sales@acme.example")
    anna = platform_sender("email", "anna@acme.example")
    message = queued_email(sales, "kim@gmail.example")
    assert message_send(message_id=message.id) == "failed"
    sales.refresh_from_db()
    anna.refresh_from_db()
    assert sales.paused and not anna.paused
