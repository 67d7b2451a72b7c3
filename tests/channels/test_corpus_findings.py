"""What replaying the inbound corpus (tests/channels/test_replay_corpus.py) found, each through
the real webhook endpoint: a WhatsApp edit or delete was stored as a new reply ("[edit
message]", "[revoke message]"), a Telegram sticker or location was stored as an empty
message, X event kinds other than DMs were dropped without a trace, a reply that carried
the platform id of one of our own messages was dropped as a "duplicate", and a mail declaring
us-ascii with Windows-1252 umlauts was stored as replacement characters."""

import json
import logging

import pytest
from django.utils import timezone

from campaigns.models import Enrollment
from contacts.models import Contact, Identity
from outreach.models import InboundEvent, Message
from outreach.sending.create import conversations_for
from tests import factories
from tests.channels.corpus import ROOT
from tests.channels.helpers import deliver, platform_sender, process_all

pytestmark = pytest.mark.django_db


def _lead(channel: str, account: str, platform_id: str):
    sender = platform_sender(channel, account, "123:ABC" if channel == "telegram" else "tok")
    contact = Contact.objects.create(first_name="Ana")
    identity = Identity.objects.create(
        contact=contact, channel=channel, value=f"+{platform_id}", platform_user_id=platform_id
    )
    campaign = factories.campaign(senders=[sender], steps=((channel, 0), (channel, 3600)))
    enrollment = Enrollment.objects.create(
        campaign=campaign, contact=contact, state="waiting", current_step=2
    )
    conversation = conversations_for({(identity.id, sender.id)})[(identity.id, sender.id)]
    return sender, enrollment, conversation


def _message(conversation, direction: str, provider_id: str, body: str) -> Message:
    return Message.objects.create(
        conversation=conversation,
        sender=conversation.sender,
        channel=conversation.sender.channel,
        direction=direction,
        status="sent" if direction == "out" else "received",
        body=body,
        provider_message_id=provider_id,
        sent_at=timezone.now(),
    )


def _whatsapp(msg: dict) -> dict:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "972123456789", "phone_number_id": "1122334455667"},
        "contacts": [{"profile": {"name": "Test Name"}, "wa_id": "972987654321"}],
        "messages": [msg],
    }
    entry = {"id": "1", "changes": [{"value": value, "field": "messages"}]}
    return {"object": "whatsapp_business_account", "entry": [entry]}


def test_a_whatsapp_edit_updates_the_stored_text_and_is_not_a_new_reply(client, platform_channels):
    _, _, conversation = _lead("whatsapp", "1122334455667", "972987654321")
    theirs = _message(conversation, "in", "wamid.zzzzzz", "Tuesday works")
    body = (ROOT / "whatsapp" / "edit_text_pywa.json").read_bytes()
    assert deliver(client, "whatsapp", body) == 200
    assert process_all() == ["edited"]
    theirs.refresh_from_db()
    assert theirs.body == "Text was edited"
    assert [e["text"] for e in theirs.edits] == ["Tuesday works"]
    assert Message.objects.filter(direction="in").count() == 1


def test_a_whatsapp_delete_redacts_the_message_even_when_it_arrives_first(
    client, platform_channels
):
    _, enrollment, _ = _lead("whatsapp", "1122334455667", "972987654321")
    revoke = {
        "from": "972987654321",
        "id": "wamid.REVOKE1",
        "timestamp": "1697043300",
        "type": "revoke",
        "revoke": {"original_message_id": "wamid.GONE1"},
    }
    text = {
        "from": "972987654321",
        "id": "wamid.GONE1",
        "timestamp": "1697043223",
        "type": "text",
        "text": {"body": "call me on 0170 1234567"},
    }
    assert deliver(client, "whatsapp", _whatsapp(revoke)) == 200
    assert deliver(client, "whatsapp", _whatsapp(text)) == 200
    assert process_all() == ["unsend of a message not stored (redacted when it arrives)", "reply"]
    [reply] = Message.objects.filter(direction="in")
    assert reply.body == "" and reply.deleted_at is not None
    enrollment.refresh_from_db()
    assert enrollment.state == "replied"  # it was an answer when it was written


@pytest.mark.parametrize(
    ("name", "shown"),
    [("sticker_nutgram.json", "[sticker]"), ("location_nutgram.json", "[location]")],
)
def test_a_telegram_sticker_or_location_says_what_came_instead_of_an_empty_message(
    client, platform_channels, name, shown
):
    _lead("telegram", "acme_bot", "12345")
    assert deliver(client, "telegram", (ROOT / "telegram" / name).read_bytes()) == 200
    assert process_all() == ["reply"]
    assert Message.objects.get(direction="in").body == shown


def test_an_x_event_kind_the_engine_does_not_handle_is_stored_and_logged_once(
    client, platform_channels, caplog
):
    platform_sender("x", "42")
    body = (ROOT / "x" / "unknown_follow_event.json").read_bytes()
    with caplog.at_level(logging.WARNING, logger="outreach.inbound"):
        for _ in range(2):  # a repeat delivery is the same stored event
            assert deliver(client, "x", body) == 200
        assert process_all() == ["unknown kind follow_events: stored"]
    assert json.loads(bytes(InboundEvent.objects.get().raw)) == json.loads(body)
    assert sum("of a kind not handled" in r.getMessage() for r in caplog.records) == 1


def test_a_reply_with_the_platform_id_of_one_of_our_messages_is_still_a_reply(
    client, platform_channels
):
    """pywa's button sample reuses one wamid for our message and the press: the press was
    taken for an already stored message and dropped."""
    _, enrollment, conversation = _lead("whatsapp", "1122334455667", "972987654321")
    ours = _message(conversation, "out", "wamid.xyzxyz", "Pick one")
    body = (ROOT / "whatsapp" / "interactive_button_reply_pywa.json").read_bytes()
    assert deliver(client, "whatsapp", body) == 200
    assert process_all() == ["reply"]
    [press] = Message.objects.filter(direction="in")
    assert (press.body, press.payload, press.reply_to) == (
        "title",
        {"button": "callback_data", "title": "title"},
        ours,
    )
    enrollment.refresh_from_db()
    assert enrollment.state == "replied"


def test_a_mail_mislabelled_as_ascii_keeps_its_umlauts(client, platform_channels):
    sender = platform_sender("email", "anna@acme.example")
    contact = Contact.objects.create(first_name="Lead")
    identity = Identity.objects.create(contact=contact, channel="email", value="lead1@example.com")
    conversation = conversations_for({(identity.id, sender.id)})[(identity.id, sender.id)]
    _message(conversation, "out", "<OUR-MESSAGE-ID>", "Kurze Frage")
    raw = (
        ROOT / "email" / "hostile" / "wrong_charset_declared_ascii_latin1_bytes.eml"
    ).read_bytes()
    assert deliver(client, "email", raw) == 200
    assert process_all() == ["reply"]
    reply = Message.objects.get(direction="in")
    assert reply.body == "Danke für die Nachricht, bitte rufen Sie mich an. Grüße"
