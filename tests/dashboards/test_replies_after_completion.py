"""Every reply counts: a reply that arrives after the contact's sequence completed (any reply
to a one-step campaign, any reply to the last step) shows as "Replied" in the dashboards, the
A/B table and the reply rates, once per enrollment. Replies reach the engine as they do in
production: signed inbound-email webhook bytes -> stored event -> the worker's processing."""

from collections import Counter

import pytest
from django.core.management import call_command
from django.utils import timezone

from analytics.campaign import campaign_dashboard
from analytics.overview import campaigns_overview
from campaigns.dispatch import enrollments_materialize
from campaigns.models import Campaign, Enrollment, StepSend, TemplateVariant
from campaigns.services import campaign_launch, enrollments_create
from campaigns.variants import template_variant_stats
from contacts.models import Contact
from outreach.models import Message
from outreach.sending.deliver import message_send
from tests import factories
from tests.channels.conftest import SECRETS
from tests.channels.helpers import deliver, platform_sender, process_all
from tests.channels.smtp import SmtpServer
from tests.dashboards.test_counters import counters_snapshot

pytestmark = pytest.mark.django_db
E = Enrollment.State


@pytest.fixture
def email_webhook(settings):
    """Email on its real backend: SMTP out (Django's test outbox), signed inbound webhook in."""
    settings.OUTREACH_CHANNELS = {
        **settings.OUTREACH_CHANNELS,
        "email": {
            "BACKEND": "outreach.channels.email.backend.EmailChannel",
            "OPTIONS": {"webhook_secret": SECRETS["email"]},
        },
    }


def send_due(campaign: Campaign) -> None:
    """What the dispatcher does: materialize due steps, then send each queued message."""
    enrollments_materialize(now=timezone.now(), batch=500)
    for mid in Message.objects.filter(
        step_send__enrollment__campaign=campaign, status=Message.Status.QUEUED
    ).values_list("id", flat=True):
        assert message_send(message_id=mid) == "sent"


def mail_reply(ours: Message, text: str, *, n: int = 1) -> bytes:
    """The contact's mail client answering our message (threaded by In-Reply-To)."""
    address = ours.conversation.identity.value
    return (
        f"From: {address}\r\nTo: {ours.sender.handle}\r\nSubject: Re: Hello\r\n"
        f"Message-ID: <reply-{ours.id}-{n}@example.com>\r\n"
        f"In-Reply-To: {ours.provider_message_id}\r\nReferences: {ours.provider_message_id}\r\n"
        f"Content-Type: text/plain\r\n\r\n{text}\r\n"
    ).encode()


def reply_to(client, ours: Message, text: str, *, n: int = 1) -> list[str]:
    assert deliver(client, "email", mail_reply(ours, text, n=n)) == 200
    return process_all()


def last_message(campaign: Campaign, contact: Contact) -> Message:
    return (
        Message.objects.filter(
            step_send__enrollment__campaign=campaign, step_send__enrollment__contact=contact
        )
        .order_by("-step_send__step__position")
        .first()
    )


@pytest.fixture
def ab_campaign(email_webhook):
    """A one-step campaign with variants A and B, sent to 12 contacts: every sequence done."""
    sender = platform_sender("email", "anna@acme.example")
    people = [factories.contact(8000 + n) for n in range(12)]
    campaign = factories.campaign(senders=[sender], steps=[("email", 0)], name="One step")
    template = campaign.sequence.steps.get().template
    TemplateVariant.objects.bulk_create(
        [TemplateVariant(template=template, label=lb, body=f"Hi ({lb})") for lb in "AB"]
    )
    enrollments_create(campaign=campaign, contacts=people)
    campaign_launch(campaign=campaign, confirm_warnings=True)
    send_due(campaign)
    states = Enrollment.objects.filter(campaign=campaign).values_list("state", flat=True)
    assert set(states) == {E.COMPLETED}
    return campaign, people


def test_replies_after_a_one_step_ab_campaign_completed_show_in_reply_rate_and_ab_table(
    client, ab_campaign
):
    campaign, people = ab_campaign
    variant_of = dict(
        StepSend.objects.filter(enrollment__campaign=campaign).values_list(
            "enrollment__contact_id", "variant__label"
        )
    )
    # Two contacts on each variant answer (whichever variant the sticky pick gave them).
    by_variant: dict[str, list[Contact]] = {"A": [], "B": []}
    for person in people:
        by_variant[variant_of[person.id]].append(person)
    assert len(by_variant["A"]) >= 2 and len(by_variant["B"]) >= 2
    repliers = by_variant["A"][:2] + by_variant["B"][:1]
    for person in repliers:
        assert reply_to(client, last_message(campaign, person), "Sounds good, call me") == ["reply"]
    # A second reply from the same contact is not a second reply in any figure.
    again = reply_to(client, last_message(campaign, repliers[0]), "Thursday works", n=2)
    assert again == ["reply"]

    replied = Enrollment.objects.filter(campaign=campaign, state=E.REPLIED)
    assert set(replied.values_list("contact_id", flat=True)) == {p.id for p in repliers}
    assert all(e.replied_at is not None for e in replied)

    row = next(r for r in campaigns_overview().rows if r.id == campaign.id)
    assert (row.contacted, row.replied) == (12, 3)
    assert row.reply_rate == pytest.approx(3 / 12)
    dashboard = campaign_dashboard(campaign=campaign)
    assert {f.label: f.count for f in dashboard.funnel}["Replied"] == 3
    assert [s.replied for s in dashboard.steps] == [3]
    assert {v.label.split(" / ")[1]: v.replied for v in dashboard.variants} == {"A": 2, "B": 1}
    assert sum(dashboard.replies_per_day) == 3

    sent = Counter(variant_of.values())
    ab = template_variant_stats(template=campaign.sequence.steps.get().template)
    assert {v.label: (v.replied, v.sent) for v in ab.variants} == {
        "A": (2, sent["A"]),
        "B": (1, sent["B"]),
    }

    kept = counters_snapshot()
    call_command("rebuild_dashboard_stats", stdout=None)
    assert counters_snapshot() == kept


def test_a_reply_to_the_last_step_of_a_two_step_campaign_counts_on_that_step(client, email_webhook):
    sender = platform_sender("email", "anna@acme.example")
    people = [factories.contact(8100 + n) for n in range(3)]
    campaign = factories.campaign(senders=[sender], steps=[("email", 0), ("email", 0)])
    enrollments_create(campaign=campaign, contacts=people)
    campaign_launch(campaign=campaign, confirm_warnings=True)
    send_due(campaign)  # step 1
    # One contact opts out by replying to step 1: their sequence stops for that reason.
    assert reply_to(client, last_message(campaign, people[1]), "STOP") == ["opt_out"]
    send_due(campaign)  # step 2, the last, to the two others
    states = dict(Enrollment.objects.values_list("contact_id", "state"))
    assert states == {people[0].id: E.COMPLETED, people[1].id: E.STOPPED, people[2].id: E.COMPLETED}

    assert reply_to(client, last_message(campaign, people[0]), "Yes, interested") == ["reply"]
    # A stopped sequence stays "Stopped" (its reason is what the rep must see): not a reply.
    assert reply_to(client, last_message(campaign, people[1]), "Why did you write?", n=2) == [
        "reply"
    ]

    states = dict(Enrollment.objects.values_list("contact_id", "state"))
    assert states == {people[0].id: E.REPLIED, people[1].id: E.STOPPED, people[2].id: E.COMPLETED}
    dashboard = campaign_dashboard(campaign=campaign)
    assert [(s.sent, s.replied) for s in dashboard.steps] == [(3, 0), (2, 1)]
    row = next(r for r in campaigns_overview().rows if r.id == campaign.id)
    assert row.replied == 1

    kept = counters_snapshot()
    call_command("rebuild_dashboard_stats", stdout=None)
    assert counters_snapshot() == kept


def test_a_reply_to_an_older_campaigns_email_counts_for_that_campaign(client, email_webhook):
    sender = platform_sender("email", "anna@acme.example")
    lead = factories.contact(8200)
    spring = factories.campaign(senders=[sender], name="Spring")
    autumn = factories.campaign(senders=[sender], name="Autumn")
    for campaign in (spring, autumn):  # one after the other, in the same mail thread
        enrollments_create(campaign=campaign, contacts=[lead])
        campaign_launch(campaign=campaign, confirm_warnings=True)
        send_due(campaign)
    assert set(Enrollment.objects.values_list("state", flat=True)) == {E.COMPLETED}

    # The lead answers spring's email (In-Reply-To names it), not autumn's later one.
    assert reply_to(client, last_message(spring, lead), "Yes, this one interests me") == ["reply"]

    states = dict(Enrollment.objects.values_list("campaign__name", "state"))
    assert states == {"Spring": E.REPLIED, "Autumn": E.COMPLETED}
    replied = {r.name: r.replied for r in campaigns_overview().rows}
    assert (replied["Spring"], replied["Autumn"]) == (1, 0)


@pytest.fixture
def smtp(settings, email_webhook):
    server = SmtpServer().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield server
    server.stop()


def test_a_reply_to_step_one_counts_when_step_two_could_not_be_sent(client, smtp):
    sender = platform_sender("email", "anna@acme.example")
    lead = factories.contact(8300)
    campaign = factories.campaign(senders=[sender], steps=[("email", 0), ("email", 0)])
    enrollments_create(campaign=campaign, contacts=[lead])
    campaign_launch(campaign=campaign, confirm_warnings=True)
    send_due(campaign)
    first = last_message(campaign, lead)
    # The receiving server refuses the follow-up's content: the sequence ends as failed.
    smtp.answers["DATA"] = "550 5.7.1 Message rejected as spam"
    enrollments_materialize(now=timezone.now(), batch=500)
    follow_up = last_message(campaign, lead)
    assert follow_up.id != first.id
    message_send(message_id=follow_up.id)
    assert Enrollment.objects.get().state == E.FAILED

    assert reply_to(client, first, "Got your first mail, yes let's talk") == ["reply"]

    enrollment = Enrollment.objects.get()
    assert (enrollment.state, enrollment.replied_at is not None) == (E.REPLIED, True)
    follow_up.refresh_from_db()
    assert follow_up.status == Message.Status.FAILED  # the failure stays on its message
    dashboard = campaign_dashboard(campaign=campaign)
    assert [(s.sent, s.replied) for s in dashboard.steps] == [(1, 1), (0, 0)]
    kept = counters_snapshot()
    call_command("rebuild_dashboard_stats", stdout=None)
    assert counters_snapshot() == kept
