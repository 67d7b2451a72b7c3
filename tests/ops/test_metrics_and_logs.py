"""/metrics as Prometheus scrapes it, and the worker's JSON logs, after a real send through
a real worker and a signed reply through the webhook endpoint."""

import json

import pytest
from prometheus_client.parser import text_string_to_metric_families

from campaigns.dispatch import dispatch_tick
from campaigns.models import Enrollment
from campaigns.services import campaign_launch, enrollments_create
from contacts.models import Identity
from outreach.models import Message
from tests import factories
from tests.channels.conftest import SECRETS
from tests.channels.helpers import platform_sender
from tests.processes import wait_for

pytestmark = [pytest.mark.live_worker]
TOKEN = "scrape-token-0123456789"
# Email goes to memory in the worker, so its log holds only log lines.
WORKER_ENV = {
    "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    "DATABASE_CONN_MAX_AGE": "0",
}


def scrape(client, token: str | None = TOKEN):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.get("/metrics", **headers)


def samples(client) -> dict[tuple[str, tuple], float]:
    response = scrape(client)
    assert response.status_code == 200
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def messages(found, channel: str, direction: str, status: str) -> float:
    key = ("dm_messages", (("channel", channel), ("direction", direction), ("status", status)))
    return found.get(key, 0)


def email_campaign(n: int = 1):
    sender = factories.sender("Anna", channel="email")
    camp = factories.campaign(senders=[sender], steps=(("email", 0), ("email", 3600)))
    contact = factories.contact(n, channels=("email", "telegram"))
    enrollments_create(campaign=camp, contacts=[contact])
    campaign_launch(campaign=camp)
    return contact


def sent_by_the_worker() -> Message:
    def sent() -> bool:
        dispatch_tick()  # the beat's tick, run here; the worker sends what it offers
        return Message.objects.filter(direction="out", status="sent").exists()

    wait_for(sent, 30, interval=0.3, message="the first email to go out")
    return Message.objects.get(direction="out", status="sent")


@pytest.mark.django_db
def test_metrics_does_not_exist_without_a_token_setting(client, settings):
    settings.METRICS_TOKEN = ""
    assert scrape(client).status_code == 404
    assert scrape(client, token=None).status_code == 404


@pytest.mark.django_db
def test_metrics_needs_the_bearer_token(client, settings):
    settings.METRICS_TOKEN = TOKEN
    assert scrape(client, token=None).status_code == 401
    assert scrape(client, token="wrong").status_code == 401
    response = scrape(client)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert b"# TYPE dm_dispatcher_lag_seconds gauge" in response.content


def test_metrics_count_a_real_send_and_a_reply_that_stopped_the_sequence(
    client, settings, live_server, worker_factory, platform_channels, control
):
    settings.METRICS_TOKEN = TOKEN
    before = samples(client)
    assert messages(before, "email", "out", "sent") == 0

    platform_sender("telegram", "acme_bot")
    contact = email_campaign()
    Identity.objects.filter(contact=contact, channel="telegram").update(platform_user_id="4241")
    worker_factory(concurrency=1, **WORKER_ENV)
    sent_by_the_worker()
    after_send = samples(client)
    assert messages(after_send, "email", "out", "sent") == 1

    control.post(
        "webhooks",
        platform="telegram",
        url=f"{live_server.url}/webhooks/telegram/",
        secret=SECRETS["telegram"],
    )
    said = control.post("say", platform="telegram", user="4241", account="acme_bot", text="Yes")
    assert said["statuses"] == [200]
    wait_for(
        lambda: Enrollment.objects.get().state == "replied", 30, message="the reply to stop it"
    )

    found = samples(client)
    assert messages(found, "telegram", "in", "received") == 1
    assert messages(found, "email", "out", "sent") == 1
    assert ("dm_inbound_lag_seconds", (("quantile", "1.0"),)) in found
    assert ("dm_reply_to_stop_seconds", (("quantile", "0.5"),)) in found
    assert found[("dm_inbound_oldest_pending_seconds", ())] == 0
    assert found[("dm_dispatcher_lag_seconds", ())] < 60
    # Queue depths are read from Redis lists; the embedded default's filesystem broker has none.
    on_redis = settings.CELERY_BROKER_URL.startswith("redis")
    assert (("dm_queue_depth", (("queue", "celery"),)) in found) == on_redis
    assert found[("dm_broker_up", ())] == 1


def test_a_worker_logs_json_lines_naming_the_message_it_sent(worker_factory):
    email_campaign()
    worker = worker_factory(concurrency=1, LOG_FORMAT="json", **WORKER_ENV)
    message = sent_by_the_worker()

    def send_logged() -> bool:
        return f'"message_id": {message.id}' in worker.log()

    wait_for(send_logged, 10, message="the send's log line")
    events = [json.loads(line) for line in worker.log().splitlines() if line.strip()]
    mine = [e for e in events if e.get("message_id") == message.id]
    sends = [e for e in mine if e["event"].startswith("message send attempt")]
    assert sends, events
    assert sends[-1]["event"] == "message send attempt: sent"
    assert sends[-1]["sender_id"] == message.sender_id
    assert sends[-1]["channel"] == "email"
    assert sends[-1]["task"] == "outreach.tasks.send_messages"
    assert sends[-1]["task_id"]
    assert sends[-1]["level"] == "info"
    # The same task's line for the campaign side names the enrolment whose step went out.
    steps = [e for e in mine if e.get("enrollment_id") == Enrollment.objects.get().id]
    assert [e["event"] for e in steps] == ["enrolment step 1 sent"], mine
    assert steps[0]["task_id"] == sends[-1]["task_id"]


def test_a_worker_logging_plain_text_names_the_message_and_enrolment_on_each_line(
    worker_factory,
):
    email_campaign()
    worker = worker_factory(concurrency=1, LOG_FORMAT="plain", **WORKER_ENV)
    message = sent_by_the_worker()
    enrollment = Enrollment.objects.get()

    def step_logged() -> bool:
        return f"enrollment_id={enrollment.id}" in worker.log()

    wait_for(step_logged, 10, message="the enrolment's log line")
    lines = worker.log().splitlines()
    send = [line for line in lines if "message send attempt: sent" in line]
    assert len(send) == 1, lines
    ids = (f"message_id={message.id}", f"sender_id={message.sender_id}", "channel=email")
    for key_value in ids:
        assert f" {key_value}" in send[0], send[0]
    step = [line for line in lines if f"enrollment_id={enrollment.id}" in line]
    assert len(step) == 1 and "enrolment step 1 sent" in step[0], step
    assert f"message_id={message.id}" in step[0]
    # Plain text all the same: no JSON objects.
    assert not any(line.lstrip().startswith("{") for line in lines)
