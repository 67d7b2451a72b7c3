""" "Send later" in the inbox: a rep's reply scheduled for a time in their own zone goes
through the same offer, claim and limits, and not before that time; cancelled, never."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from outreach.models import Message
from outreach.sending.claim import claim_batch
from outreach.sending.deliver import message_send
from outreach.sending.offer import messages_offer
from tests import factories
from tests.engine.harness import poll_until
from tests.inbox.helpers import rep, reply_from

pytestmark = pytest.mark.django_db
BERLIN = ZoneInfo("Europe/Berlin")


def _conversation(owner):
    email = factories.sender("Mail")
    contact = factories.contact(1, owner=owner)
    return reply_from(contact, email, "Can we talk tomorrow?").conversation


def _schedule(client, convo, at, text="Talk at 10?"):
    """The reply form as the browser posts it: wall-clock time and the rep's zone."""
    local = at.astimezone(BERLIN).strftime("%Y-%m-%dT%H:%M:%S")
    return client.post(
        f"/inbox/{convo.pk}/reply/", {"body": text, "send_at": local, "send_tz": "Europe/Berlin"}
    )


def test_a_scheduled_reply_is_not_claimed_before_its_time_and_is_sent_after(client):
    ann = rep("ann")
    convo = _conversation(ann)
    client.force_login(ann)
    at = (timezone.now() + timedelta(seconds=4)).replace(microsecond=0)
    response = _schedule(client, convo, at)
    assert response.status_code == 302
    message = Message.objects.get(conversation=convo, direction="out")
    assert (message.status, message.not_before) == ("queued", at)
    page = client.get(f"/inbox/{convo.pk}/").content.decode()
    assert "scheduled for" in page and "cancel" in page

    # Before its time neither the offer nor a (late, duplicate) claim takes it.
    assert timezone.now() < at
    assert message.id not in messages_offer(now=timezone.now())
    assert claim_batch([message.id]) == []
    message.refresh_from_db()
    assert message.status == "queued"

    assert poll_until(lambda: timezone.now() >= at, timeout=10)
    assert messages_offer(now=timezone.now()) == [message.id]
    assert message_send(message_id=message.id) == "sent"
    message.refresh_from_db()
    assert message.sent_at >= at


def test_a_cancelled_scheduled_reply_never_goes(client):
    ann = rep("ann")
    convo = _conversation(ann)
    client.force_login(ann)
    at = timezone.now() + timedelta(seconds=2)
    _schedule(client, convo, at)
    message = Message.objects.get(conversation=convo, direction="out")
    response = client.post(f"/inbox/{convo.pk}/scheduled/{message.pk}/cancel/", follow=True)
    assert "Scheduled reply cancelled" in response.content.decode()
    assert poll_until(lambda: timezone.now() >= at, timeout=10)
    time_after = timezone.now()
    assert messages_offer(now=time_after) == []
    assert message_send(message_id=message.id) == "skipped"
    message.refresh_from_db()
    assert message.status == "cancelled" and message.sent_at is None
    assert message.events.filter(status="cancelled").exists()


def test_a_time_in_the_past_is_refused_with_a_reason(client):
    ann = rep("ann")
    convo = _conversation(ann)
    client.force_login(ann)
    response = _schedule(client, convo, timezone.now() - timedelta(hours=1))
    assert response.status_code == 400
    assert "Pick a time in the future" in response.content.decode()
    assert not Message.objects.filter(conversation=convo, direction="out").exists()


def test_the_time_is_read_in_the_reps_zone_not_the_servers(client):
    ann = rep("ann")
    convo = _conversation(ann)
    client.force_login(ann)
    at = (timezone.now() + timedelta(days=1)).replace(second=0, microsecond=0)
    _schedule(client, convo, at)
    assert Message.objects.get(conversation=convo, direction="out").not_before == at


def test_another_reps_scheduled_reply_cannot_be_cancelled(client):
    ann, bob = rep("ann"), rep("bob")
    convo = _conversation(ann)
    client.force_login(ann)
    _schedule(client, convo, timezone.now() + timedelta(hours=2))
    message = Message.objects.get(conversation=convo, direction="out")
    client.force_login(bob)
    response = client.post(f"/inbox/{convo.pk}/scheduled/{message.pk}/cancel/")
    assert response.status_code == 404
    message.refresh_from_db()
    assert message.status == "queued"
