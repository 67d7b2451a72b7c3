"""A refused WhatsApp step re-routed to email, with a real Celery worker: the worker's policy
gate refuses WhatsApp (no 24 h window, no template), the campaigns receiver in the worker
re-routes the step, and the next dispatcher tick queues the email the worker then sends."""

import pytest

from campaigns.dispatch import dispatch_tick
from campaigns.models import Enrollment, Step, StepAlternative, StepSend, Template
from campaigns.services import campaign_launch, enrollments_create
from outreach.models import Message
from tests import factories
from tests.channels.conftest import SECRETS
from tests.channels.helpers import platform_sender
from tests.processes import wait_for

pytestmark = [pytest.mark.live_worker]


def test_whatsapp_refused_by_the_policy_gate_goes_out_by_email_through_real_workers(
    platform_channels, control, fake, worker_factory
):
    wa = platform_sender("whatsapp", "1234567890", "tok")
    email = factories.sender("Anna", channel="email")
    camp = factories.campaign(senders=[wa, email], steps=(("whatsapp", 0),))
    step = Step.objects.get(sequence=camp.sequence)
    step.on_refused = Step.OnRefused.NEXT_CHANNEL
    step.save(update_fields=["on_refused"])
    by_email = Template.objects.create(
        name="by email", channel="email", subject="Hello", body="Hello {{ first_name }}, by email"
    )
    StepAlternative.objects.create(step=step, position=1, channel="email", template=by_email)
    enrollments_create(
        campaign=camp, contacts=[factories.contact(1, channels=("whatsapp", "email"))]
    )
    campaign_launch(campaign=camp)
    worker = worker_factory(
        concurrency=1,
        PLATFORM_BACKENDS="true",
        PLATFORM_BASE_URL=fake.url,
        META_APP_SECRET=SECRETS["meta"],
        EMAIL_BACKEND="django.core.mail.backends.console.EmailBackend",
        DATABASE_CONN_MAX_AGE="0",
    )

    def email_sent() -> bool:
        dispatch_tick()  # the beat's tick, run here; the worker sends what it offers
        return Message.objects.filter(channel="email", status="sent").exists()

    wait_for(email_sent, 30, interval=0.3, message="the re-routed email to go out")

    refused = Message.objects.get(channel="whatsapp")
    assert refused.status == "failed"
    assert refused.error_reason.startswith("platform policy: outside WhatsApp's 24 h")
    assert control.outbox("whatsapp") == []
    assert "Hello Lead1, by email" in worker.log()
    assert Message.objects.filter(direction="out").count() == 2
    attempts = StepSend.objects.order_by("route").values_list("route", "rerouted_at")
    assert [(route, at is not None) for route, at in attempts] == [(0, True), (1, False)]
    wait_for(
        lambda: Enrollment.objects.get().state == "completed", 10, message="the sequence to end"
    )
