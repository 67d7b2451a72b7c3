"""The inbox shows what the contact did beyond writing: an edited message carries an
"edited" mark with its earlier texts, a reaction shows its emoji on the message it reacts
to, an unsent message reads "message removed by the contact", a pressed button or quick
reply reads "chose: …", and a story reply links to the story. Every event arrives as signed
webhook bytes (tests/fixtures/inbound/) -> stored event -> processing; the page is the
server-rendered thread a rep opens."""

import json
from pathlib import Path

import pytest
from django.utils import timezone

from contacts.models import Identity
from outreach.models import Conversation, Message
from outreach.sending.create import conversations_for, messages_create
from tests import factories
from tests.channels.helpers import deliver, platform_sender, process_all
from tests.inbox.helpers import rep

INBOUND = Path(__file__).resolve().parent.parent / "fixtures" / "inbound"
IGSID, IG = "5550001", "IG1"
STORY = "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17841405&signature=SIGNATURE"
STORY_REPLY_MID = "aWdfZAG1faXRlbToxOklHTWVzc2FnZUlEOjE3ODQxNDA1"
UNSENT_MID = "aWdfZAG1faXRlbToxOklHTWVzc2FnZUlEOjE3ODQxNDA2"


def event(channel: str, name: str, **replace: str) -> dict:
    """A fixture as an Instagram webhook (Meta sends edits, reactions and quick replies to
    Instagram in Messenger's shape) for our account and the contact."""
    text = (INBOUND / channel / name).read_text()
    ids = {"<PSID>": IGSID, "<IGSID>": IGSID, "<PAGE_ID>": IG, "<IG_ID>": IG, "PAGE_ID": IG}
    for old, new in (ids | replace).items():
        text = text.replace(old, new)
    body = json.loads(text)
    body["object"] = "instagram"
    return body


def _text(mid: str, text: str) -> dict:
    body = event("instagram", "story_reply.json")
    body["entry"][0]["messaging"][0]["message"] = {"mid": mid, "text": text}
    return body


def a_conversation_with_every_kind_of_event(client) -> Conversation:
    """Our message (reacted to), then the contact's text edited, a quick reply, a story reply
    and a message they unsent, each through the Instagram webhook."""
    sender = platform_sender("instagram", IG)
    contact = factories.contact(1, channels=("instagram",), first_name="Ines")
    identity = contact.identities.get()
    Identity.objects.filter(id=identity.id).update(platform_user_id=IGSID)
    conversation = conversations_for({(identity.id, sender.id)})[(identity.id, sender.id)]
    messages_create(
        [
            Message(
                conversation=conversation,
                sender=sender,
                channel="instagram",
                direction="out",
                status="sent",
                body="Would a demo on Tuesday suit you?",
                provider_message_id="m_OURS_1",
                sent_at=timezone.now(),
            )
        ]
    )
    events = [
        event("messenger", "message_reaction.json", **{"<MID_OF_ReactedTo_Message>": "m_OURS_1"}),
        _text("m_EDITED_1", "Monday works, 9:00"),
        event("messenger", "message_edit.json"),
        event("messenger", "quick_reply.json"),
        event("instagram", "story_reply.json"),
        _text(UNSENT_MID, "Oops, wrong chat: my PIN is 4711"),
        event("instagram", "unsend_is_deleted.json"),
    ]
    for body in events:
        assert deliver(client, "instagram", body) == 200
    assert process_all() == [
        "reaction react",
        "reply",
        "edited",
        "reply",
        "reply",
        "reply",
        "unsent: redacted",
    ]
    return conversation


@pytest.mark.django_db
def test_the_thread_shows_edits_reactions_unsends_choices_and_story_replies(
    client, platform_channels
):
    conversation = a_conversation_with_every_kind_of_event(client)
    client.force_login(rep("root", is_superuser=True))
    page = client.get(f"/inbox/{conversation.pk}/thread/").content.decode()

    ours = _card(page, "Would a demo on Tuesday suit you?")
    assert 'class="reaction" title="The contact\'s reaction">\u2764\ufe0f</div>' in ours

    edited = _card(page, "Tuesday works better, 10:00")
    assert "<summary>edited</summary>" in edited
    assert "Monday works, 9:00" in edited

    chose = _card(page, "chose:")
    assert "chose: Red" in chose and "DEVELOPER_DEFINED_PAYLOAD_FOR_PICKING_RED" in chose

    story = _card(page, "Love this one!")
    assert "replied to your story" in story
    assert f'href="{STORY.replace("&", "&amp;")}"' in story

    unsent = _card(page, "message removed by the contact")
    assert "4711" not in page and "wrong chat" not in page
    assert "edited" not in unsent


@pytest.mark.django_db
def test_a_story_link_that_is_not_a_web_address_is_not_a_link(client, platform_channels):
    sender = platform_sender("instagram", IG)
    contact = factories.contact(2, channels=("instagram",))
    Identity.objects.filter(contact=contact).update(platform_user_id=IGSID)
    body = event("instagram", "story_reply.json", **{STORY: "javascript:alert(1)"})
    assert deliver(client, "instagram", body) == 200
    assert process_all() == ["reply"]
    conversation = Conversation.objects.get(sender=sender)
    client.force_login(rep("root", is_superuser=True))
    page = client.get(f"/inbox/{conversation.pk}/thread/").content.decode()
    assert "replied to your story" in page and "javascript:" not in page


def _card(page: str, text: str) -> str:
    """The rendered card (one message) holding `text`."""
    cards = page.split('<div class="card message')[1:]
    [card] = [c for c in cards if text in c]
    return card
