"""The inbox list after a campaign: what the open view shows, and reaching every page."""

from datetime import timedelta

import pytest
from django.utils import timezone

from outreach.models import Conversation, Message
from tests import factories
from tests.inbox.helpers import rep, reply_from

pytestmark = pytest.mark.django_db


def _planned_only(contact, sender) -> Conversation:
    """What the dispatcher leaves behind: a conversation with a queued message, no answer."""
    convo = Conversation.objects.create(identity=contact.identities.get(), sender=sender)
    Message.objects.create(
        conversation=convo, sender=sender, channel="email", direction="out", status="queued"
    )
    return convo


def test_the_open_inbox_lists_only_conversations_where_the_contact_wrote(client):
    boss = rep("root", is_superuser=True)
    email = factories.sender("Mail")
    replied = factories.contact(1, first_name="Rhea")
    silent = factories.contact(2, first_name="Sid")
    reply_from(replied, email, "Sounds good, tell me more")
    _planned_only(silent, email)
    client.force_login(boss)

    page = client.get("/inbox/").content.decode()
    assert "Rhea Tester" in page and "Sid Tester" not in page
    assert "1 contact" in page
    assert "Sounds good, tell me more" in page and "channel-email" in page  # snippet, icon
    no_reply = client.get("/inbox/?status=no_reply").content.decode()
    assert "Sid Tester" in no_reply and "Rhea Tester" not in no_reply
    everything = client.get("/inbox/?status=all").content.decode()
    assert "Rhea Tester" in everything and "Sid Tester" in everything


def test_the_inbox_pages_through_every_replied_conversation_and_shows_the_total(client):
    boss = rep("root", is_superuser=True)
    email = factories.sender("Mail")
    start = timezone.now() - timedelta(days=30)
    for n in range(205):  # more than the 200 rows the list used to stop at
        contact = factories.contact(n, first_name=f"Person{n:03d}")
        at = start + timedelta(minutes=n)  # Person000 wrote first, so comes last
        convo = Conversation.objects.create(
            identity=contact.identities.get(), sender=email, last_inbound_at=at
        )
        Message.objects.create(
            conversation=convo, sender=email, channel="email", direction="in",
            status="received", body="Hi", sent_at=at,
        )  # fmt: skip
    client.force_login(boss)

    first = client.get("/inbox/").content.decode()
    assert "205 contacts · page 1 of 5" in first
    assert "Person204" in first and "Person000" not in first
    assert 'href="?page=5"' in first
    last = client.get("/inbox/?page=5").content.decode()
    assert "Person000" in last and "page 5 of 5" in last
    with_filter = client.get("/inbox/?status=open&channel=email&page=2").content.decode()
    assert "page 2 of 5" in with_filter
    assert 'href="?status=open&amp;channel=email&amp;page=3"' in with_filter
