"""Outgoing webhooks against a real local receiver: signed, retried with backoff, given up
after the limit with the failure visible, and replayable from the admin."""

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone

from campaigns.models import Enrollment
from campaigns.signals import reply_received
from contacts.services import contact_opt_out
from outreach.models import Conversation
from pipelines.models import Deal, Pipeline, Stage
from pipelines.services import deal_move
from tests import factories
from tests.channels.helpers import contact_replies
from tests.inbox.helpers import campaign_with, rep
from webhooks.models import WebhookDelivery, WebhookSubscriber
from webhooks.services import webhook_deliveries_due, webhook_delivery_attempt

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def loopback_receiver_allowed(settings):
    """The test receiver listens on 127.0.0.1, which webhooks reach only when allowed."""
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]


def subscribe(receiver, *events: str) -> WebhookSubscriber:
    return WebhookSubscriber.objects.create(url=receiver.url, events=list(events))


def deliver_all(now=None) -> None:
    for delivery_id in webhook_deliveries_due(now=now):
        webhook_delivery_attempt(delivery_id=delivery_id, now=now)


def verify(headers: dict, body: bytes, secret: str) -> bool:
    signed = headers["X-Webhook-Timestamp"].encode() + b"." + body
    expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["X-Webhook-Signature"])


def test_opt_out_is_delivered_signed_with_the_subscribers_secret(receiver):
    sub = subscribe(receiver, "contact.opted_out")
    contact = factories.contact()
    contact_opt_out(contact=contact, source="api")
    deliver_all()
    headers, body = receiver.requests[0]
    assert verify(headers, body, sub.secret)
    assert not verify(headers, body, "wrong secret")
    payload = json.loads(body)
    assert payload["event"] == "contact.opted_out"
    assert payload["data"]["contact_id"] == contact.id
    assert WebhookDelivery.objects.get().status == "succeeded"


def test_reply_received_reaches_subscribers_of_that_event_only(receiver, client):
    subscribe(receiver, "reply.received")
    other = subscribe(receiver, "message.failed")
    contact = factories.contact()
    sender = factories.sender()
    contact_replies(client, contact, sender, "Yes, interested")
    deliver_all()
    events = [json.loads(body)["event"] for _, body in receiver.requests]
    assert events == ["reply.received"]
    assert not other.deliveries.exists()
    assert json.loads(receiver.requests[0][1])["data"]["body"] == "Yes, interested"
    assert Conversation.objects.count() == 1


def test_a_subscriber_added_after_a_reply_gets_the_next_reply(receiver, client):
    # The subscribers are read once per transaction (webhooks/services.py); a test's replies
    # share the test's transaction, so this fails if adding one does not make them read again.
    contact = factories.contact()
    sender = factories.sender()
    contact_replies(client, contact, sender, "Who is this?")
    subscribe(receiver, "reply.received")
    contact_replies(client, contact, sender, "Yes, interested")
    deliver_all()
    bodies = [json.loads(body) for _, body in receiver.requests]
    assert [(b["event"], b["data"]["body"]) for b in bodies] == [
        ("reply.received", "Yes, interested")
    ]


def test_a_failing_webhook_listener_loses_neither_the_reply_nor_its_stop(receiver, client):
    subscribe(receiver, "reply.received")
    campaign, (sender,) = campaign_with(rep("olga"))
    contact = factories.contact()
    Enrollment.objects.create(campaign=campaign, contact=contact, state="active")

    def broken(sender, **kwargs) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 / 0")  # aborts the PostgreSQL transaction it runs in

    reply_received.connect(broken, dispatch_uid="test.broken")  # after the webhook's own
    try:
        reply = contact_replies(client, contact, sender, "Yes, interested")
    finally:
        reply_received.disconnect(dispatch_uid="test.broken")
    assert Enrollment.objects.get(contact=contact).state == "replied"
    deliver_all()
    [(_, body)] = receiver.requests
    assert json.loads(body)["data"]["message_id"] == reply.id


def test_deal_stage_change_is_delivered(receiver):
    subscribe(receiver, "deal.stage_changed")
    pipeline = Pipeline.objects.create(name="Hooks")
    new = Stage.objects.create(pipeline=pipeline, name="New", position=1)
    won = Stage.objects.create(pipeline=pipeline, name="Won", position=2, kind="won")
    deal = Deal.objects.create(contact=factories.contact(), pipeline=pipeline, stage=new)
    deal_move(deal=deal, stage=won, reason="signed")
    deliver_all()
    data = json.loads(receiver.requests[-1][1])["data"]
    assert (data["from_stage"], data["to_stage"]) == ("New", "Won")


def test_a_500_is_retried_with_growing_backoff_then_succeeds(receiver, settings):
    settings.WEBHOOK_BACKOFF_SECONDS = 30
    subscribe(receiver, "contact.opted_out")
    receiver.codes = [500, 500]
    contact_opt_out(contact=factories.contact(), source="api")
    start = timezone.now()
    deliver_all(now=start)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert delivery.next_attempt_at == start + timedelta(seconds=30)
    assert webhook_deliveries_due(now=start + timedelta(seconds=29)) == []
    second = start + timedelta(seconds=30)
    deliver_all(now=second)
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == second + timedelta(seconds=60)
    deliver_all(now=second + timedelta(seconds=60))
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 3)
    assert [a.status_code for a in delivery.log.all()] == [500, 500, 200]
    assert delivery.log.first().response_body == "answer 500"


def test_gives_up_after_the_limit_with_the_failure_visible(receiver, settings, client):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    settings.WEBHOOK_BACKOFF_SECONDS = 0
    subscribe(receiver, "contact.opted_out")
    receiver.codes = [503] * 5
    contact_opt_out(contact=factories.contact(), source="api")
    for _ in range(5):
        deliver_all()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("failed", 3, "HTTP 503")
    assert len(receiver.requests) == 3
    client.force_login(User.objects.create_superuser("root", "r@example.com", "pw-123456"))
    page = client.get("/admin/webhooks/webhookdelivery/").content.decode()
    assert "Gave up" in page and "HTTP 503" in page


def test_unreachable_receiver_is_logged_and_retried(settings):
    WebhookSubscriber.objects.create(url="http://127.0.0.1:9/nothing", events=["contact.opted_out"])
    contact_opt_out(contact=factories.contact(), source="api")
    deliver_all()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and delivery.attempts == 1
    assert "ConnectError" in delivery.last_error


def test_replay_from_the_admin_sends_the_event_again(
    receiver, client, django_capture_on_commit_callbacks
):
    subscribe(receiver, "contact.opted_out")
    contact_opt_out(contact=factories.contact(), source="api")
    deliver_all()
    original = WebhookDelivery.objects.get()
    client.force_login(User.objects.create_superuser("root", "r@example.com", "pw-123456"))
    with django_capture_on_commit_callbacks(execute=False):
        client.post(
            "/admin/webhooks/webhookdelivery/",
            {"action": "replay", "_selected_action": [original.id]},
        )
    copy = WebhookDelivery.objects.exclude(id=original.id).get()
    assert copy.replay_of == original and copy.payload == original.payload
    deliver_all()
    assert len(receiver.requests) == 2
    assert json.loads(receiver.requests[1][1])["data"] == original.payload


def test_webhook_secret_is_encrypted_and_masked_in_the_admin(receiver, client):
    from django.db import connection

    sub = subscribe(receiver, "message.failed")
    with connection.cursor() as cur:
        cur.execute("SELECT secret FROM campaigns_webhooksubscriber WHERE id = %s", [sub.id])
        assert sub.secret not in cur.fetchone()[0]
    client.force_login(User.objects.create_superuser("root", "r@example.com", "pw-123456"))
    page = client.get(f"/admin/webhooks/webhooksubscriber/{sub.id}/change/").content.decode()
    assert sub.secret not in page


def test_a_subscriber_url_typed_without_a_scheme_is_saved_as_https(client):
    client.force_login(User.objects.create_superuser("root", "r@example.com", "pw-123456"))
    response = client.post(
        "/admin/webhooks/webhooksubscriber/add/",
        {"url": "crm.example.com/hooks/outreach", "events": '["reply.received"]', "active": "on"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert WebhookSubscriber.objects.get().url == "https://crm.example.com/hooks/outreach"
