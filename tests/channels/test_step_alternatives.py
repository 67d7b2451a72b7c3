"""Per-channel alternatives for one step, and the re-route of a send the policy gate refused.

In-process against the real PostgreSQL database: the dispatcher, the policy gate of the real
platform backends (pointed at the fake platform) and the campaigns receiver run as they do
in a worker.
"""

import pytest
from django.core import mail
from django.utils import timezone

from analytics.forecast import campaign_forecast
from campaigns.dispatch import enrollments_materialize
from campaigns.lint import campaign_lint
from campaigns.models import Enrollment, Step, StepAlternative, StepSend, Template
from campaigns.preview import step_previews
from campaigns.services import LaunchError, campaign_launch, enrollments_create
from contacts.models import Identity
from contacts.services import identity_opt_out
from outreach.models import Message
from outreach.sending.deliver import message_send
from outreach.sending.offer import messages_offer
from tests import factories
from tests.channels.helpers import platform_sender

pytestmark = pytest.mark.django_db
WA_TEMPLATE = {"type": "template", "name": "intro_v1", "language": "en_US"}


def run_once() -> list[str]:
    """One dispatcher tick plus the send of everything it offered."""
    now = timezone.now()
    enrollments_materialize(now=now)
    return [message_send(message_id=mid) for mid in messages_offer(now=now)]


def alternative(step: Step, position: int, channel: str, body: str, **fields) -> StepAlternative:
    template = Template.objects.create(
        name=f"{step} alt {position}", channel=channel, subject="Hello", body=body, **fields
    )
    return StepAlternative.objects.create(
        step=step, position=position, channel=channel, template=template
    )


def step_then_email(first, *, on_refused: str, contacts: int, channels, platform_user_id=""):
    """One step on `first`'s channel with an email alternative; contacts on the given
    channels (with a known platform id on the first channel, if given)."""
    email = factories.sender("Anna", channel="email")
    camp = factories.campaign(
        senders=[first, email], steps=((first.channel, 0),), body="Hi {{ first_name }}"
    )
    step = Step.objects.get(sequence=camp.sequence)
    step.on_refused = on_refused
    step.save(update_fields=["on_refused"])
    alternative(step, 1, "email", "Hello {{ first_name }}, by email")
    people = [factories.contact(n, channels=channels) for n in range(1, contacts + 1)]
    if platform_user_id:
        Identity.objects.filter(contact__in=people, channel=first.channel).update(
            platform_user_id=platform_user_id
        )
    enrollments_create(campaign=camp, contacts=people)
    campaign_launch(campaign=camp)
    return camp, step, people


def whatsapp_then_email(*, on_refused: str = "hold", contacts=1, channels=("whatsapp", "email")):
    wa = platform_sender("whatsapp", "1234567890", "tok")
    return step_then_email(wa, on_refused=on_refused, contacts=contacts, channels=channels)


def test_step_falls_back_to_email_when_contact_has_no_instagram_identity(platform_channels):
    ig = platform_sender("instagram", "IG1")
    email = factories.sender("Anna", channel="email")
    camp = factories.campaign(senders=[ig, email], steps=(("instagram", 0),))
    step = Step.objects.get(sequence=camp.sequence)
    alternative(step, 1, "email", "Hello {{ first_name }}, by email")
    on_instagram = factories.contact(1, channels=("instagram", "email"))
    email_only = factories.contact(2, channels=("email",))
    enrollments_create(campaign=camp, contacts=[on_instagram, email_only])
    campaign_launch(campaign=camp)

    assert enrollments_materialize(now=timezone.now()) == (2, 0)

    sent = {
        s.enrollment.contact_id: s
        for s in StepSend.objects.select_related("message", "enrollment").filter(step=step)
    }
    assert (sent[on_instagram.id].message.channel, sent[on_instagram.id].route) == ("instagram", 0)
    assert sent[on_instagram.id].message.body == "Hi Lead1 (step 1)"
    assert (sent[email_only.id].message.channel, sent[email_only.id].route) == ("email", 1)
    assert sent[email_only.id].message.body == "Hello Lead2, by email"
    assert sent[email_only.id].message.sender == email


def test_step_skips_an_opted_out_channel_for_the_next_alternative(platform_channels):
    ig = platform_sender("instagram", "IG1")
    email = factories.sender("Anna", channel="email")
    camp = factories.campaign(senders=[ig, email], steps=(("instagram", 0),))
    step = Step.objects.get(sequence=camp.sequence)
    alternative(step, 1, "email", "Hello by email")
    contact = factories.contact(1, channels=("instagram", "email"))
    identity_opt_out(identity=contact.identities.get(channel="instagram"), source="test")
    enrollments_create(campaign=camp, contacts=[contact])
    campaign_launch(campaign=camp)

    assert run_once() == ["sent"]
    assert Message.objects.get().channel == "email"
    assert len(mail.outbox) == 1


def test_step_without_any_identity_is_skipped_with_every_channel_named(platform_channels):
    ig = platform_sender("instagram", "IG1")
    email = factories.sender("Anna", channel="email")
    camp = factories.campaign(senders=[ig, email], steps=(("instagram", 0), ("email", 60)))
    step = Step.objects.get(sequence=camp.sequence, position=1)
    alternative(step, 1, "whatsapp", "Hello on WhatsApp")
    contact = factories.contact(1, channels=("x",))
    enrollments_create(campaign=camp, contacts=[contact])
    Enrollment.objects.update(next_action_at=timezone.now())
    camp.status = "running"
    camp.save(update_fields=["status"])

    enrollments_materialize(now=timezone.now())

    enrollment = Enrollment.objects.get()
    assert enrollment.current_step == 2
    assert enrollment.hold_reason == "skipped step 1: no Instagram or WhatsApp identity"
    assert not Message.objects.exists()


def test_whatsapp_refused_outside_window_is_rerouted_to_email_when_step_says_so(
    platform_channels, control
):
    _, step, [contact] = whatsapp_then_email(on_refused="next_channel")

    assert run_once() == ["skipped"]  # the gate refused WhatsApp: no window, no template

    refused = Message.objects.get(channel="whatsapp")
    assert refused.status == "failed"
    assert refused.error_reason.startswith(
        "platform policy: outside WhatsApp's 24 h customer-service window"
    )
    enrollment = Enrollment.objects.get()
    assert enrollment.state == "active"
    assert enrollment.hold_reason.startswith("step 1: WhatsApp refused (platform policy: outside")
    assert enrollment.hold_reason.endswith("re-routed to Email")

    assert run_once() == ["sent"]

    rerouted = Message.objects.get(channel="email")
    assert rerouted.body == "Hello Lead1, by email"
    assert [m.to for m in mail.outbox] == [["lead1@example.com"]]
    assert control.outbox("whatsapp") == []
    # Both attempts stay on the campaign: the refused one with its reason, marked re-routed.
    attempts = list(StepSend.objects.filter(step=step).order_by("route"))
    assert [(a.route, a.message_id, a.rerouted_at is not None) for a in attempts] == [
        (0, refused.id, True),
        (1, rerouted.id, False),
    ]
    enrollment.refresh_from_db()
    assert (enrollment.state, enrollment.hold_reason) == ("completed", "all steps sent")
    refused.refresh_from_db()
    assert refused.status == "failed" and "24 h" in refused.hold_reason


def test_refused_send_is_held_with_reason_when_step_says_hold(platform_channels, control):
    whatsapp_then_email(on_refused="hold")

    assert run_once() == ["skipped"]
    assert run_once() == []

    held = Message.objects.get()
    assert held.channel == "whatsapp" and held.status == "queued"
    assert held.hold_reason.startswith(
        "platform policy: outside WhatsApp's 24 h customer-service window"
    )
    assert held.not_before > timezone.now()
    assert Enrollment.objects.get().state == "waiting"
    assert mail.outbox == [] and control.outbox("whatsapp") == []


def test_refusal_is_held_when_no_alternative_can_reach_the_contact(platform_channels, control):
    whatsapp_then_email(on_refused="next_channel", channels=("whatsapp",))

    assert run_once() == ["skipped"]

    held = Message.objects.get()
    assert held.status == "queued" and held.hold_reason.startswith("platform policy: outside")
    assert Enrollment.objects.get().state == "waiting"
    assert StepSend.objects.get().rerouted_at is None


def test_refused_free_form_whatsapp_is_rerouted_to_the_whatsapp_template_alternative(
    platform_channels, control
):
    camp, step, [contact] = whatsapp_then_email(on_refused="next_channel")
    StepAlternative.objects.filter(step=step).update(position=2)
    alternative(step, 1, "whatsapp", "Hi {{ first_name }}", attachments=[WA_TEMPLATE])
    Identity.objects.filter(contact=contact, channel="whatsapp").update(
        value="+4915112345678", platform_user_id="4915112345678"
    )

    assert run_once() == ["skipped"]
    assert run_once() == ["sent"]

    sent = Message.objects.get(status="sent")
    assert (sent.channel, sent.attachments) == ("whatsapp", [WA_TEMPLATE])
    assert StepSend.objects.get(message=sent).route == 1
    assert len(control.outbox("whatsapp")) == 1 and mail.outbox == []


def test_permanent_refusal_with_no_channel_left_fails_the_enrollment_with_the_reason(
    platform_channels,
):
    camp, step, _ = whatsapp_then_email(on_refused="next_channel", channels=("whatsapp",))
    big = {"type": "image", "url": "https://cdn.example.com/a.png", "size": 6 * 1024 * 1024}
    Template.objects.filter(id=step.template_id).update(attachments=[big])  # edited after launch

    assert run_once() == ["skipped"]

    assert Message.objects.get().status == "failed"
    enrollment = Enrollment.objects.get()
    assert enrollment.state == "failed"
    assert enrollment.hold_reason.startswith("step 1: attachment: ")
    assert enrollment.hold_reason.endswith("; no other channel left to try")


def telegram_then_email(*, on_refused: str):
    """To a contact whose chat id we know but who never started the bot: the gate lets the
    send through and Telegram refuses it."""
    bot = platform_sender("telegram", "demo_bot", credentials="123:abc")
    _, step, _ = step_then_email(
        bot,
        on_refused=on_refused,
        contacts=1,
        channels=("telegram", "email"),
        platform_user_id="4242",
    )
    return step


def test_telegram_refusing_a_bot_the_contact_never_started_reroutes_to_email(
    platform_channels, control
):
    control.post("users", platform="telegram", id="4242", started=False)
    step = telegram_then_email(on_refused="next_channel")

    assert run_once() == ["failed"]  # Telegram answered 403: bot can't initiate conversation

    refused = Message.objects.get(channel="telegram")
    assert (refused.status, refused.error_code) == ("failed", "telegram_403")
    enrollment = Enrollment.objects.get()
    assert enrollment.state == "active"
    assert "Telegram refused" in enrollment.hold_reason
    assert "initiate" in enrollment.hold_reason
    assert enrollment.hold_reason.endswith("re-routed to Email")

    assert run_once() == ["sent"]
    assert [m.to for m in mail.outbox] == [["lead1@example.com"]]
    assert Message.objects.get(channel="email").body == "Hello Lead1, by email"
    assert [(s.route, s.rerouted_at is not None) for s in StepSend.objects.filter(step=step)] == [
        (0, True),
        (1, False),
    ]
    enrollment.refresh_from_db()
    assert enrollment.state == "completed"


def test_telegram_refusal_fails_the_enrollment_when_the_step_does_not_reroute(
    platform_channels, control
):
    control.post("users", platform="telegram", id="4242", started=False)
    telegram_then_email(on_refused="hold")

    assert run_once() == ["failed"]
    assert run_once() == []

    enrollment = Enrollment.objects.get()
    assert enrollment.state == "failed"
    assert enrollment.hold_reason.startswith("step 1: ")
    assert "initiate" in enrollment.hold_reason
    assert mail.outbox == [] and Message.objects.filter(channel="email").count() == 0


# --- lint, preview and launch cover every alternative -------------------------------------


def test_unknown_variable_in_an_alternative_blocks_the_launch(platform_channels):
    wa = platform_sender("whatsapp", "1234567890", "tok")
    email = factories.sender("Anna", channel="email")
    camp = factories.campaign(senders=[wa, email], steps=(("whatsapp", 0),))
    step = Step.objects.get(sequence=camp.sequence)
    alternative(step, 1, "email", "Hello {{ frist_name }}")
    enrollments_create(campaign=camp, contacts=[factories.contact(1, channels=("email",))])

    with pytest.raises(LaunchError) as exc:
        campaign_launch(campaign=camp)

    assert any(
        p.startswith("step 1 / alternative 1 (Email) body") and "frist_name" in p
        for p in exc.value.problems
    ), exc.value.problems
    camp.refresh_from_db()
    assert camp.status == "draft"


def test_launch_refuses_an_alternative_on_a_channel_without_a_sender(platform_channels):
    email = factories.sender("Anna", channel="email")
    camp = factories.campaign(senders=[email], steps=(("email", 0),))
    alternative(Step.objects.get(sequence=camp.sequence), 1, "telegram", "Hi")
    enrollments_create(campaign=camp, contacts=[factories.contact(1)])

    with pytest.raises(LaunchError) as exc:
        campaign_launch(campaign=camp)

    assert exc.value.problems == [
        "Step 1 alternative 1 sends on Telegram, but the campaign has no sender account for it."
    ]


def test_lint_counts_empty_variables_of_an_alternative_for_contacts_on_its_channel(
    platform_channels,
):
    ig = platform_sender("instagram", "IG1")
    email = factories.sender("Anna", channel="email")
    camp = factories.campaign(senders=[ig, email], steps=(("instagram", 0),))
    alternative(Step.objects.get(sequence=camp.sequence), 1, "email", "Hi from {{ company }}")
    contacts = [
        factories.contact(1, channels=("instagram",)),
        factories.contact(2, channels=("email",)),
        factories.contact(3, channels=("email",), company="Acme"),
        factories.contact(4, channels=()),
    ]
    enrollments_create(campaign=camp, contacts=contacts)

    report = campaign_lint(campaign=camp)

    texts = [i.text for i in report.issues]
    assert any(
        t.startswith("step 1 / alternative 1 (Email): {{ company }} is empty")
        and "1 of 2 contacts" in t
        for t in texts
    ), texts
    assert any(
        t.startswith("step 1: 1 contact has no Instagram or Email identity") for t in texts
    ), texts
    assert not report.errors


def test_preview_renders_the_step_on_every_alternative(platform_channels):
    ig = platform_sender("instagram", "IG1")
    email = factories.sender("Anna", channel="email")
    camp = factories.campaign(senders=[ig, email], steps=(("instagram", 0),))
    step = Step.objects.get(sequence=camp.sequence)
    alternative(step, 1, "email", "{Hi|Hello} {{ first_name }}, by email")
    contact = factories.contact(1, channels=("instagram", "email"))
    enrollments_create(campaign=camp, contacts=[contact])
    campaign_launch(campaign=camp)
    Identity.objects.filter(channel="instagram").delete()  # the dispatcher will use email

    previews = step_previews(step=step, contact=contact)

    assert [label for label, _ in previews] == ["", "alternative 1 (Email)"]
    by_email = previews[1][1]
    assert by_email.channel == "email" and not by_email.error
    enrollments_materialize(now=timezone.now())
    assert Message.objects.get().body == by_email.rendered.text  # identical to what is sent


def test_builder_review_previews_the_first_step_on_each_alternative(
    platform_channels, admin_client
):
    ig = platform_sender("instagram", "IG1")
    email = factories.sender("Anna", channel="email")
    camp = factories.campaign(senders=[ig, email], steps=(("instagram", 0),))
    alternative(Step.objects.get(sequence=camp.sequence), 1, "email", "Dear {{ first_name }}")
    enrollments_create(campaign=camp, contacts=[factories.contact(1, channels=("email",))])

    page = admin_client.get(f"/campaigns/{camp.pk}/build/review/").content.decode()

    assert "Step 1, alternative 1 (Email), for Lead1 Tester" in page
    assert "Dear Lead1" in page


def test_forecast_plans_the_step_on_the_alternative_the_dispatcher_will_use(platform_channels):
    ig = platform_sender("instagram", "IG1")
    email = factories.sender("Anna", channel="email")
    camp = factories.campaign(senders=[ig, email], steps=(("instagram", 0),))
    alternative(Step.objects.get(sequence=camp.sequence), 1, "email", "Hello by email")
    enrollments_create(
        campaign=camp,
        contacts=[factories.contact(1, channels=("email",)), factories.contact(2, channels=())],
    )

    result = campaign_forecast(campaign=camp)

    assert [(s.enrollment_id, s.sender_id) for s in result.sends] == [
        (Enrollment.objects.get(contact__first_name="Lead1").id, email.id)
    ]


def test_enrollment_admin_shows_the_refused_attempt_and_its_reason_beside_the_rerouted_one(
    platform_channels, admin_client
):
    whatsapp_then_email(on_refused="next_channel")
    run_once()
    run_once()

    page = admin_client.get(
        f"/admin/campaigns/enrollment/{Enrollment.objects.get().pk}/change/"
    ).content.decode()

    assert "platform policy: outside WhatsApp&#x27;s 24 h customer-service window" in page
    assert "Email (alternative 1)" in page


def test_an_alternatives_template_is_versioned_and_its_message_names_the_version(
    platform_channels,
):
    from campaigns.versions import template_save

    ig = platform_sender("instagram", "IG1")
    email = factories.sender("Anna", channel="email")
    camp = factories.campaign(senders=[ig, email], steps=(("instagram", 0),))
    step = Step.objects.get(sequence=camp.sequence)
    alt = alternative(step, 1, "email", "Hello {{ first_name }}, by email")
    first = factories.contact(1, channels=("email",))
    enrollments_create(campaign=camp, contacts=[first])
    campaign_launch(campaign=camp)
    enrollments_materialize(now=timezone.now())

    template = alt.template
    template.body = "Hello {{ first_name }}, by email (v2)"
    template_save(template=template)  # the campaign runs: a new version, not a rewrite
    second = factories.contact(2, channels=("email",))
    enrollments_create(campaign=camp, contacts=[second])
    enrollments_materialize(now=timezone.now())

    sends = {
        s.enrollment.contact_id: s
        for s in StepSend.objects.select_related("message", "template_version").filter(step=step)
    }
    assert (sends[first.id].template_version.number, sends[first.id].message.body) == (
        1,
        "Hello Lead1, by email",
    )
    assert (sends[second.id].template_version.number, sends[second.id].message.body) == (
        2,
        "Hello Lead2, by email (v2)",
    )
    assert sends[second.id].template_version.template == template
