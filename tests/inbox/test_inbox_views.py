"""The inbox as reps see it: visibility, filters, replying through the send path, notes."""

from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from core.teams import Team
from outreach.inbox.models import ConversationState
from outreach.models import Conversation, Message, SenderAccount
from outreach.selectors import InboxQuery, inbox_conversations, support_metrics
from outreach.sending.deliver import message_send
from pipelines.models import Deal
from tests import factories
from tests.inbox.helpers import campaign_with, rep, reply_from

pytestmark = pytest.mark.django_db


def _setup():
    ann, bob = rep("ann"), rep("bob")
    camp, (email,) = campaign_with(None)
    mine = factories.contact(1, owner=ann)
    theirs = factories.contact(2, owner=bob)
    reply_from(mine, email, "Sounds good, tell me more")
    reply_from(theirs, email, "Not interested, thanks")
    return ann, bob, email, mine, theirs


def test_a_rep_sees_only_conversations_of_their_contacts_or_assigned_to_them(client):
    ann, bob, email, mine, theirs = _setup()
    client.force_login(ann)
    page = client.get("/inbox/").content.decode()
    assert str(mine) in page and str(theirs) not in page
    other = theirs.identities.get().conversations.get()
    assert client.get(f"/inbox/{other.pk}/").status_code == 404
    other.assigned_to = ann
    other.save(update_fields=["assigned_to"])
    assert client.get(f"/inbox/{other.pk}/").status_code == 200


def test_an_admin_sees_every_conversation(client, django_user_model):
    from django.contrib.auth.models import Group

    _setup()
    boss = rep("boss")
    boss.groups.add(Group.objects.get_or_create(name="admin")[0])
    client.force_login(boss)
    page = client.get("/inbox/").content.decode()
    assert "Lead1" in page and "Lead2" in page


def test_filters_unread_intent_and_stage_narrow_the_list():
    ann, bob, email, mine, theirs = _setup()
    boss = rep("root", is_superuser=True)
    assert inbox_conversations(user=boss, query=InboxQuery(unread=True)).count() == 2
    interested = inbox_conversations(user=boss, query=InboxQuery(intent="interested"))
    assert [c.identity.contact for c in interested] == [mine]
    stage = Deal.objects.get(contact=theirs).stage
    by_stage = inbox_conversations(user=boss, query=InboxQuery(extra={"stage": str(stage.id)}))
    assert [c.identity.contact for c in by_stage] == [theirs]


def test_a_reply_from_the_inbox_is_queued_on_the_send_path_as_human_written(client):
    ann, bob, email, mine, theirs = _setup()
    convo = mine.identities.get().conversations.get()
    client.force_login(ann)
    client.get(f"/inbox/{convo.pk}/")
    assert ConversationState.objects.get(conversation=convo).read_at is not None
    r = client.post(f"/inbox/{convo.pk}/reply/", {"body": "Great, Thursday 10:00?"})
    assert r.status_code == 302
    out = Message.objects.get(conversation=convo, direction="out")
    assert (out.status, out.human_written, out.body) == ("queued", True, "Great, Thursday 10:00?")
    assert out.events.filter(status="queued").exists()
    assert "by ann" in client.get(f"/inbox/{convo.pk}/").content.decode()  # who wrote it


def test_an_empty_reply_gets_a_field_error_not_a_500(client):
    ann, bob, email, mine, theirs = _setup()
    convo = mine.identities.get().conversations.get()
    client.force_login(ann)
    r = client.post(f"/inbox/{convo.pk}/reply/", {"body": "   "})
    assert r.status_code == 400 and "This field is required" in r.content.decode()
    assert not Message.objects.filter(direction="out").exists()
    r = client.post(f"/inbox/{convo.pk}/snooze/", {"hours": "nonsense"})
    assert r.status_code == 302


def test_notes_assign_and_snooze_hide_it_from_the_open_inbox(client):
    ann, bob, email, mine, theirs = _setup()
    # Only a manager hands a conversation to someone else, and only within their team.
    ann.groups.add(Group.objects.get(name="manager"))
    Team.objects.create(name="North").managers.add(ann)
    Team.objects.get(name="North").members.add(bob)
    convo = mine.identities.get().conversations.get()
    client.force_login(ann)
    client.post(f"/inbox/{convo.pk}/note/", {"body": "Called, wants a quote"})
    client.post(f"/inbox/{convo.pk}/assign/", {"user": bob.pk})
    convo.refresh_from_db()
    assert convo.assigned_to == bob and convo.notes.get().body == "Called, wants a quote"
    client.post(f"/inbox/{convo.pk}/snooze/", {"hours": 24})
    assert str(mine) not in client.get("/inbox/").content.decode()
    assert str(mine) in client.get("/inbox/?status=snoozed").content.decode()


def test_metrics_page_shows_first_response_per_rep_and_channel(client):
    ann, bob, email, mine, theirs = _setup()
    convo = mine.identities.get().conversations.get()
    client.force_login(ann)
    client.post(f"/inbox/{convo.pk}/reply/", {"body": "Hi!"})
    page = client.get("/inbox/metrics/").content.decode()
    assert "Per rep" in page and "Email" in page


def test_metrics_credit_a_response_to_the_rep_who_sent_it_not_the_current_assignee(client):
    ann, bob, email, mine, theirs = _setup()
    boss = rep("root", is_superuser=True)
    convo = mine.identities.get().conversations.get()
    client.force_login(ann)
    client.post(f"/inbox/{convo.pk}/reply/", {"body": "Hi!"})
    assert Message.objects.get(conversation=convo, direction="out").author == ann
    client.post(f"/inbox/{convo.pk}/assign/", {"user": ""})  # unassigned afterwards
    old = theirs.identities.get().conversations.get()
    Message.objects.create(  # a reply from before the inbox recorded who wrote it
        conversation=old, sender=email, channel="email", direction="out", status="sent",
        body="Sorry to hear", human_written=True,
    )  # fmt: skip
    Conversation.objects.filter(id=old.id).update(assigned_to=bob)

    metrics = support_metrics(user=boss)
    assert set(metrics.by_rep) == {"ann", "unknown"}
    assert len(metrics.by_rep["ann"].first_response) == 1
    assert len(metrics.by_rep["unknown"].first_response) == 1
    client.force_login(boss)
    page = client.get("/inbox/metrics/").content.decode()
    assert "<td>ann</td>" in page and "<td>unassigned</td>" not in page


def test_a_queued_reply_says_in_the_thread_why_it_waits_and_for_when(client):
    ann = rep("ann")
    email = factories.sender("Mail", cap=1, time_zone="Europe/Berlin")
    berlin = ZoneInfo("Europe/Berlin")
    today = timezone.now().astimezone(berlin).date()
    SenderAccount.objects.filter(id=email.id).update(sent_today=1, counter_day=today)
    contact = factories.contact(1, owner=ann)
    convo = reply_from(contact, email, "Sounds good, tell me more").conversation
    client.force_login(ann)
    client.post(f"/inbox/{convo.pk}/reply/", {"body": "Great, Thursday 10:00?"})
    out = Message.objects.get(conversation=convo, direction="out")
    message_send(message_id=out.id)  # the send task: the sender has used its daily cap

    out.refresh_from_db()
    assert out.status == "queued" and out.not_before is not None
    slot = f"{out.not_before.astimezone(berlin):%a} 00:00 Europe/Berlin"
    thread = client.get(f"/inbox/{convo.pk}/thread/").content.decode()
    assert f"waiting: sender daily cap reached (1/1), next slot {slot}" in thread
