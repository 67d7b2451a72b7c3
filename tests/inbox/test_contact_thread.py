"""One thread per contact: their messages on every channel, a channel switcher on the reply
box, and saved replies rendered for the contact."""

import pytest

from contacts.models import Identity
from core.teams import Team
from outreach.inbox.models import SavedReply
from outreach.models import Conversation, Message
from tests import factories
from tests.inbox.helpers import rep, reply_from

pytestmark = pytest.mark.django_db


def _two_channels(owner):
    email = factories.sender("Mail", channel="email")
    telegram = factories.sender("Bot", channel="telegram")
    contact = factories.contact(1, channels=("email", "telegram"), owner=owner, company="Acme")
    reply_from(contact, email, "Sent you the brief by mail")
    reply_from(contact, telegram, "Ping on Telegram too")
    return contact, email, telegram


def test_the_thread_shows_the_contacts_messages_from_every_channel_with_a_badge(client):
    ann = rep("ann")
    contact, email, telegram = _two_channels(ann)
    mail_convo = Conversation.objects.get(sender=email)
    client.force_login(ann)
    page = client.get(f"/inbox/{mail_convo.pk}/").content.decode()
    assert "Sent you the brief by mail" in page and "Ping on Telegram too" in page
    assert page.index("Sent you the brief") < page.index("Ping on Telegram")  # by time
    assert 'data-channel="telegram"' in page and 'data-channel="email"' in page
    # The polled thread is the same unified one, and every channel of it is now read.
    polled = client.get(f"/inbox/{mail_convo.pk}/thread/").content.decode()
    assert "Ping on Telegram too" in polled
    assert all(c.inbox.read_at for c in Conversation.objects.all())


def test_the_reply_box_defaults_to_the_channel_the_contact_last_wrote_on(client):
    ann = rep("ann")
    contact, email, telegram = _two_channels(ann)
    tg_convo = Conversation.objects.get(sender=telegram)
    mail_convo = Conversation.objects.get(sender=email)
    client.force_login(ann)
    page = client.get(f"/inbox/{mail_convo.pk}/").content.decode()
    assert f'<option value="c{tg_convo.pk}" selected>' in page
    assert f'<option value="c{mail_convo.pk}">' in page

    r = client.post(f"/inbox/{mail_convo.pk}/reply/", {"body": "Answering here", "to": ""})
    assert r.status_code == 302  # no choice: the page's conversation, as before
    r = client.post(
        f"/inbox/{mail_convo.pk}/reply/", {"body": "On Telegram", "to": f"c{tg_convo.pk}"}
    )
    assert r.status_code == 302 and r.url == f"/inbox/{tg_convo.pk}/"
    sent = Message.objects.get(body="On Telegram")
    assert (sent.conversation, sent.channel, sent.status) == (tg_convo, "telegram", "queued")
    assert sent.human_written and sent.author == ann


def test_switching_to_a_channel_without_a_conversation_creates_it_on_the_send_path(client):
    ann = rep("ann")
    email = factories.sender("Mail", channel="email")
    factories.sender("Bot", channel="telegram")
    contact = factories.contact(1, channels=("email", "telegram"), owner=ann)
    reply_from(contact, email, "Mail only so far")
    convo = Conversation.objects.get()
    telegram_identity = Identity.objects.get(channel="telegram")
    client.force_login(ann)
    page = client.get(f"/inbox/{convo.pk}/").content.decode()
    key = next(k for k in page.split('"') if k.startswith(f"i{telegram_identity.pk}-s"))
    r = client.post(f"/inbox/{convo.pk}/reply/", {"body": "Hello on Telegram", "to": key})
    new = Conversation.objects.get(identity=telegram_identity)
    assert r.url == f"/inbox/{new.pk}/"
    assert Message.objects.get(body="Hello on Telegram").conversation == new


def test_a_conversation_of_another_contact_or_team_cannot_be_chosen(client):
    ann, bob = rep("ann"), rep("bob")
    contact, email, telegram = _two_channels(ann)
    other = factories.contact(2, owner=bob)
    reply_from(other, email, "Bob's lead")
    theirs = Conversation.objects.get(identity__contact=other)
    mine = Conversation.objects.get(sender=email, identity__contact=contact)
    client.force_login(ann)
    r = client.post(f"/inbox/{mine.pk}/reply/", {"body": "Sneaky", "to": f"c{theirs.pk}"})
    assert r.status_code == 400 and "Select a valid choice" in r.content.decode()
    assert not Message.objects.filter(body="Sneaky").exists()


def test_a_saved_reply_is_rendered_for_the_contact_with_fallbacks(client):
    ann = rep("ann")
    contact, email, telegram = _two_channels(ann)
    contact.first_name = ""
    contact.save(update_fields=["first_name"])
    reply = SavedReply.objects.create(
        name="Thanks",
        body='Hi {{ first_name|default:"there" }}, thanks from {{ company }} '
        "via {{ sender.name }}!",
        created_by=ann,
    )
    tg_convo = Conversation.objects.get(sender=telegram)
    client.force_login(ann)
    page = client.get(f"/inbox/{tg_convo.pk}/").content.decode()
    assert f'<option value="{reply.pk}">Thanks</option>' in page
    r = client.get(
        f"/inbox/replies/render/{contact.pk}/",
        {"saved_reply": reply.pk, "to": f"c{tg_convo.pk}"},
    )
    assert r.status_code == 200
    assert "Hi there, thanks from Acme via Bot!</textarea>" in r.content.decode()


def test_saved_replies_and_contacts_of_other_teams_are_not_found(client):
    ann, bob = rep("ann"), rep("bob")
    north = Team.objects.create(name="North")
    north.members.add(bob)
    theirs = SavedReply.objects.create(name="North only", body="x", team=north, created_by=bob)
    mine = SavedReply.objects.create(name="Mine", body="Hi {{ first_name }}", created_by=ann)
    other = factories.contact(2, owner=bob)
    own = factories.contact(1, owner=ann)
    client.force_login(ann)
    assert "North only" not in client.get("/inbox/replies/").content.decode()
    render = "/inbox/replies/render/{}/"
    assert client.get(render.format(own.pk), {"saved_reply": theirs.pk}).status_code == 404
    assert client.get(render.format(other.pk), {"saved_reply": mine.pk}).status_code == 404
    assert client.get(render.format(own.pk), {"saved_reply": mine.pk}).status_code == 200
    assert client.get(f"/inbox/replies/{theirs.pk}/").status_code == 404
    assert client.post(f"/inbox/replies/{theirs.pk}/delete/").status_code == 404
    assert SavedReply.objects.filter(pk=theirs.pk).exists()


def test_a_rep_creates_edits_and_deletes_a_saved_reply_after_confirming(client):
    ann = rep("ann")
    north = Team.objects.create(name="North")
    north.members.add(ann)
    client.force_login(ann)
    r = client.post("/inbox/replies/new/", {"name": "Broken", "body": "Hi {{ first_name"})
    assert r.status_code == 400 and not SavedReply.objects.exists()
    r = client.post(
        "/inbox/replies/new/", {"name": "Hello", "body": "Hi {{ first_name }}", "team": north.pk}
    )
    assert r.status_code == 302
    reply = SavedReply.objects.get()
    assert (reply.team, reply.created_by) == (north, ann)
    client.post(
        f"/inbox/replies/{reply.pk}/",
        {"name": "Hello again", "body": "Hello {{ first_name }}", "team": north.pk},
    )
    reply.refresh_from_db()
    assert reply.name == "Hello again"
    confirm = client.get(f"/inbox/replies/{reply.pk}/delete/").content.decode()
    assert "Delete the saved reply" in confirm and SavedReply.objects.exists()
    client.post(f"/inbox/replies/{reply.pk}/delete/")
    assert not SavedReply.objects.exists()
    assert "No saved replies yet" in client.get("/inbox/replies/").content.decode()


def test_the_inbox_lists_a_contact_once_with_every_channel_they_wrote_on(client):
    ann = rep("ann")
    contact, email, telegram = _two_channels(ann)
    other = factories.contact(2, owner=ann, first_name="Olga")
    reply_from(other, email, "Only by mail")
    client.force_login(ann)
    page = client.get("/inbox/").content.decode()
    assert page.count('class="conversation-row') == 2 and "2 contacts" in page
    tg_convo = Conversation.objects.get(sender=telegram)
    row = page[page.index(f'data-conversation="{tg_convo.pk}"') :].split("</tr>")[0]
    assert "Ping on Telegram too" in row  # the latest message, from the latest channel
    assert "channel-email" in row and "channel-telegram" in row
    assert f'href="/inbox/{tg_convo.pk}/"' in row
