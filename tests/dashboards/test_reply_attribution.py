"""A reply counts on the step it answers: the message of ours it quotes (an email's
In-Reply-To, a quoted Telegram message, Instagram's reply_to.mid, WhatsApp's context), else
the contact's last message in that campaign. So a reply quoting step 1 after step 2 went out
counts for step 1 and its A/B variant, in the live counters, in the A/B table and after a
rebuild. Replies arrive as signed webhook bytes or inbound mail -> stored event -> the
worker's processing; our steps go out through the real channel backends."""

from collections import Counter

import pytest
from django.core.management import call_command
from django.utils import timezone

from analytics.campaign import campaign_dashboard
from campaigns.models import Campaign, Enrollment, Step, StepSend, TemplateVariant
from campaigns.services import campaign_launch, enrollments_create
from campaigns.variants import template_variant_stats
from contacts.models import Contact, Identity
from outreach.models import Conversation, Message
from tests import factories
from tests.channels.conftest import SECRETS
from tests.channels.helpers import deliver, platform_sender, process_all
from tests.dashboards.test_counters import counters_snapshot
from tests.dashboards.test_replies_after_completion import mail_reply, send_due

pytestmark = pytest.mark.django_db
E = Enrollment.State


def unthreaded_mail(person: Contact, message_id: str) -> bytes:
    """A new mail from `person` to the sender, threaded to nothing of ours."""
    return (
        f"From: {person.identities.get().value}\r\nTo: anna@acme.example\r\n"
        f"Subject: Your offer\r\nMessage-ID: <{message_id}@example.com>\r\n"
        "Content-Type: text/plain\r\n\r\nTell me more.\r\n"
    ).encode()


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


def step_message(campaign: Campaign, contact: Contact, position: int) -> Message:
    return Message.objects.get(
        step_send__enrollment__campaign=campaign,
        step_send__enrollment__contact=contact,
        step_send__step__position=position,
    )


def per_step(campaign: Campaign) -> list[tuple[int, int]]:
    return [(s.sent, s.replied) for s in campaign_dashboard(campaign=campaign).steps]


def rebuilt_counters_agree() -> None:
    kept = counters_snapshot()
    call_command("rebuild_dashboard_stats", stdout=None)
    assert counters_snapshot() == kept


def test_an_email_reply_quoting_step_1_after_step_2_counts_for_step_1_and_its_variant(
    client, email_webhook
):
    sender = platform_sender("email", "anna@acme.example")
    people = [factories.contact(8300 + n) for n in range(8)]
    campaign = factories.campaign(senders=[sender], steps=[("email", 0), ("email", 0)])
    opener = campaign.sequence.steps.get(position=1).template
    TemplateVariant.objects.bulk_create(
        [TemplateVariant(template=opener, label=lb, body=f"Hi ({lb})") for lb in "AB"]
    )
    enrollments_create(campaign=campaign, contacts=people)
    campaign_launch(campaign=campaign, confirm_warnings=True)
    send_due(campaign)  # step 1
    send_due(campaign)  # step 2, threaded under step 1
    assert set(Enrollment.objects.values_list("state", flat=True)) == {E.COMPLETED}
    variant_of = dict(
        StepSend.objects.filter(step__position=1).values_list(
            "enrollment__contact_id", "variant__label"
        )
    )
    quoting, answering_2 = people[0], people[1]
    # people[0] answers from the first email; people[1] answers the follow-up.
    assert deliver(client, "email", mail_reply(step_message(campaign, quoting, 1), "Yes!")) == 200
    answer = mail_reply(step_message(campaign, answering_2, 2), "Now yes")
    assert deliver(client, "email", answer) == 200
    # people[2] writes a new mail, threaded to nothing: it counts on the last step sent.
    assert deliver(client, "email", unthreaded_mail(people[2], "fresh-1")) == 200
    assert process_all() == ["reply", "reply", "reply"]

    assert per_step(campaign) == [(8, 1), (8, 2)]
    dashboard = campaign_dashboard(campaign=campaign)
    by_variant = {v.label: v.replied for v in dashboard.variants}
    assert by_variant[f"step 1 / {variant_of[quoting.id]}"] == 1
    other = "B" if variant_of[quoting.id] == "A" else "A"
    assert by_variant.get(f"step 1 / {other}", 0) == 0
    ab = template_variant_stats(template=opener)
    sent = Counter(variant_of.values())
    assert {v.label: (v.replied, v.sent) for v in ab.variants} == {
        variant_of[quoting.id]: (1, sent[variant_of[quoting.id]]),
        other: (0, sent[other]),
    }
    rebuilt_counters_agree()


@pytest.mark.parametrize("channel", ["telegram", "instagram", "whatsapp"])
def test_a_dm_quoting_step_1_after_step_2_counts_for_step_1(
    client, platform_channels, control, fake, channel
):
    account = {"telegram": "acme_bot", "instagram": "IG1", "whatsapp": "PN1"}[channel]
    user = {"telegram": "7001", "instagram": "7001", "whatsapp": "4915112345678"}[channel]
    sender = platform_sender(channel, account, "123:ABC" if channel == "telegram" else "tok")
    lead = factories.contact(8400, channels=(channel,))
    identity = lead.identities.get()
    value = f"+{user}" if channel == "whatsapp" else identity.value
    Identity.objects.filter(id=identity.id).update(platform_user_id=user, value=value)
    # The contact wrote first (Meta's and WhatsApp's windows are open; the bot was started).
    control.post("accounts", platform=channel, id=account, token="tok")
    control.post(
        "users", platform=channel, id=user, started=True, last_inbound=fake.platforms.now()
    )
    conversation, _ = Conversation.objects.get_or_create(identity=identity, sender=sender)
    Conversation.objects.filter(id=conversation.id).update(last_inbound_at=timezone.now())
    campaign = factories.campaign(senders=[sender], steps=[(channel, 0), (channel, 0)])
    enrollments_create(campaign=campaign, contacts=[lead])
    campaign_launch(campaign=campaign, confirm_warnings=True)
    send_due(campaign)
    send_due(campaign)
    first, second = step_message(campaign, lead, 1), step_message(campaign, lead, 2)
    assert first.provider_message_id and second.provider_message_id

    quoted = fake.platforms.render_say(
        channel, user, account, "Yes to that!", first.provider_message_id
    )
    assert deliver(client, channel, quoted) == 200
    assert process_all() == ["reply"]
    reply = Message.objects.get(direction="in")
    assert reply.reply_to == first
    assert Enrollment.objects.get().state == E.REPLIED
    assert per_step(campaign) == [(1, 1), (1, 0)]
    rebuilt_counters_agree()


def test_a_reply_that_goes_on_for_an_always_step_counts_on_the_step_it_quotes(
    client, email_webhook
):
    # Step 3 is "Always": the replies below keep the sequences live for it, and each still
    # counts once, on the step it quotes, else on the last step sent.
    sender = platform_sender("email", "anna@acme.example")
    people = [factories.contact(8500 + n) for n in range(3)]
    campaign = factories.campaign(
        senders=[sender], steps=[("email", 0), ("email", 0), ("email", 86400)]
    )
    campaign.sequence.steps.filter(position=3).update(condition=Step.Condition.ALWAYS)
    enrollments_create(campaign=campaign, contacts=people)
    campaign_launch(campaign=campaign, confirm_warnings=True)
    send_due(campaign)  # step 1
    send_due(campaign)  # step 2; step 3 is due tomorrow
    quoting, fresh = people[0], people[1]
    assert deliver(client, "email", mail_reply(step_message(campaign, quoting, 1), "Yes!")) == 200
    assert deliver(client, "email", unthreaded_mail(fresh, "fresh-always")) == 200
    assert process_all() == ["reply", "reply"]

    replied = {e.contact_id: e for e in Enrollment.objects.filter(contact__in=[quoting, fresh])}
    assert {e.state for e in replied.values()} == {E.ACTIVE}
    assert replied[quoting.id].replied_to.step.position == 1
    assert replied[fresh.id].replied_to.step.position == 2
    assert per_step(campaign) == [(3, 1), (3, 1), (0, 0)]
    rebuilt_counters_agree()
