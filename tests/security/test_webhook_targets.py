"""Outgoing webhooks go to public addresses only: a URL on loopback, a private network,
link-local or a cloud metadata address is refused when saved in the admin, and a stored one
is never posted to. WEBHOOK_ALLOWED_NETWORKS lets an internal receiver in."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_networks
from contacts.services import contact_opt_out
from tests import factories
from webhooks.models import WebhookDelivery, WebhookSubscriber
from webhooks.services import webhook_deliveries_due, webhook_delivery_attempt

pytestmark = pytest.mark.django_db


def add_subscriber(admin_client, url: str):
    return admin_client.post(
        "/admin/webhooks/webhooksubscriber/add/",
        {"url": url, "events": '["contact.opted_out"]', "active": "on"},
    )


def deliver_all() -> None:
    for delivery_id in webhook_deliveries_due():
        webhook_delivery_attempt(delivery_id=delivery_id)


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://127.0.0.1/hook", "127.0.0.1 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata"),
        ("http://[::1]/hook", "::1 is a loopback address"),
        ("http://10.0.0.5/hook", "10.0.0.5 is a private address"),
        ("http://localhost:8000/hook", "localhost ("),  # (127.0.0.1) or (::1)
        ("http://[fd00:ec2::254]/", "fd00:ec2::254 is a cloud metadata address"),
        ("http://[::ffff:169.254.1.1]/", "is a link-local address"),
        ("http://0.0.0.0:8000/", "0.0.0.0 is an unspecified address"),
    ],
)
def test_admin_refuses_a_webhook_url_on_an_internal_address(admin_client, url, kind):
    response = add_subscriber(admin_client, url)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["url"]
    assert any("Webhooks cannot be sent here" in e and kind in e for e in errors), errors
    assert "address" in errors[0]
    assert not WebhookSubscriber.objects.exists()


def test_metadata_address_is_refused_even_inside_an_allowed_network(admin_client, settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["169.254.0.0/16"]
    assert add_subscriber(admin_client, "http://169.254.169.254/").status_code == 200
    assert not WebhookSubscriber.objects.exists()


def test_a_stored_loopback_subscriber_is_not_posted_to_and_the_delivery_fails_with_why(
    receiver,
):
    # Saved before the rule existed (no form ran): the delivery itself refuses.
    WebhookSubscriber.objects.create(url=receiver.url, events=["contact.opted_out"])
    contact_opt_out(contact=factories.contact(), source="api")
    deliver_all()
    delivery = WebhookDelivery.objects.get()
    assert receiver.requests == []
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert "127.0.0.1 is a loopback address" in delivery.last_error
    assert "127.0.0.1 is a loopback address" in delivery.log.get().error
    assert webhook_deliveries_due() == []  # not retried: the address stays refused


def test_an_allowed_internal_network_is_saved_and_delivered_to_by_name(
    admin_client, receiver, settings
):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["10.0.0.0/8", "127.0.0.0/8", "::1/128"]
    url = receiver.url.replace("127.0.0.1", "localhost")
    assert add_subscriber(admin_client, url).status_code == 302
    contact_opt_out(contact=factories.contact(), source="api")
    deliver_all()
    assert WebhookDelivery.objects.get().status == "succeeded"
    [(headers, _)] = receiver.requests
    # Sent to the checked address, but still addressed to the name the receiver was given.
    assert headers["Host"] == url.split("/")[2]


def test_a_mistyped_allowed_network_stops_start_up_naming_it(monkeypatch):
    monkeypatch.setenv("WEBHOOK_ALLOWED_NETWORKS", "10.0.0.0/8, 10.0.0.300/32")
    with pytest.raises(ImproperlyConfigured, match=r"10\.0\.0\.300/32"):
        env_networks("WEBHOOK_ALLOWED_NETWORKS")
