"""Every inbound message keeps the platform's id for it and the message of ours it answers,
and an id names one message only within the scope the platform gives it: Telegram counts
message_id per bot and chat, an email's Message-ID is the sender's to write, Meta mids,
WhatsApp wamids and X event ids are global. Through the real webhook endpoint (signed
bytes) and the dispatcher's sends to the fake platform."""

import json

import pytest
from django.db import connection
from django.test import Client

from campaigns.models import Enrollment
from contacts.models import Identity
from outreach.models import InboundEvent, Message
from outreach.sending.create import conversations_for, messages_create
from outreach.sending.deliver import message_send
from tests import factories
from tests.channels.conftest import fixture_json
from tests.channels.helpers import (
    deliver,
    platform_sender,
    post_webhook,
    process_all,
    signed_headers,
)
from tests.locks import Holder, in_thread, wait_until, waiting_on_a_lock

pytestmark = pytest.mark.django_db


def _lead(sender, n: int, platform_id: str = "", steps: int = 2):
    """Contact n (created once) in a running sequence of a new campaign on the sender's
    channel, past its first step."""
    channel = sender.channel
    known = Identity.objects.filter(channel=channel, platform_user_id=platform_id).first()
    contact = known.contact if platform_id and known else factories.contact(n, channels=(channel,))
    if platform_id:
        Identity.objects.filter(contact=contact).update(platform_user_id=platform_id)
    camp = factories.campaign(
        senders=[sender], steps=tuple((channel, 3600 * i) for i in range(steps))
    )
    enrollment = Enrollment.objects.create(
        campaign=camp, contact=contact, state="waiting", current_step=2
    )
    identity = contact.identities.get()
    conversation = conversations_for({(identity.id, sender.id)})[(identity.id, sender.id)]
    return enrollment, conversation


def _replies() -> list[Message]:
    return list(Message.objects.filter(direction="in").order_by("id"))


# --- Telegram: message_id counts per bot and chat ------------------------------------------


def _telegram(update_id: int, chat: str, message_id: int, text: str) -> bytes:
    body = fixture_json("telegram", "text_private_real")
    body["update_id"] = update_id
    msg = body["message"]
    msg["chat"]["id"] = msg["from"]["id"] = int(chat)
    msg.update(message_id=message_id, text=text)
    return json.dumps(body).encode()


def test_two_contacts_each_sending_telegram_message_5_are_two_replies_and_a_repeat_is_one(
    client, platform_channels
):
    bot = platform_sender("telegram", "acme_bot", "123:ABC")
    first, _ = _lead(bot, 1, "111")
    second, _ = _lead(bot, 2, "222")
    ana = _telegram(500, "111", 5, "Yes, call me")
    deliver(client, "telegram", ana)
    deliver(client, "telegram", _telegram(501, "222", 5, "Tuesday works"))
    deliver(client, "telegram", ana)  # Telegram delivers the same update again
    assert process_all() == ["reply", "reply"]
    assert [(m.body, m.provider_message_id) for m in _replies()] == [
        ("Yes, call me", "111:5"),
        ("Tuesday works", "222:5"),
    ]
    for enrollment in (first, second):
        enrollment.refresh_from_db()
        assert enrollment.state == "replied"


def test_one_person_writing_message_5_to_each_of_two_bots_keeps_both_and_edits_the_right_one(
    client, platform_channels
):
    one = platform_sender("telegram", "one_bot", "111:one")
    two = platform_sender("telegram", "two_bot", "222:two")
    enrollment, _ = _lead(two, 1, "333")
    _lead(one, 1, "333")  # the same person, in the first bot's campaign too
    for bot, update_id, text in ((one, 7, "Hi one"), (two, 7, "Hi two")):
        raw = _telegram(update_id, "333", 5, text)
        url = f"/webhooks/telegram/{bot.id}/"
        headers = signed_headers("telegram", raw)
        assert client.post(url, raw, "application/json", headers=headers).status_code == 200
    assert process_all() == ["reply", "reply"]
    replies = {m.sender_id: m for m in _replies()}
    assert (replies[one.id].body, replies[one.id].provider_message_id) == ("Hi one", "333:5")
    assert (replies[two.id].body, replies[two.id].provider_message_id) == ("Hi two", "333:5")

    edited = json.loads(_telegram(8, "333", 5, "Hi two, edited"))
    edited["edited_message"] = edited.pop("message")
    raw = json.dumps(edited).encode()
    url = f"/webhooks/telegram/{two.id}/"
    client.post(url, raw, "application/json", headers=signed_headers("telegram", raw))
    assert process_all() == ["edited"]
    replies[one.id].refresh_from_db()
    replies[two.id].refresh_from_db()
    assert replies[one.id].body == "Hi one" and replies[one.id].edits == []
    assert replies[two.id].body == "Hi two, edited"
    assert [e["text"] for e in replies[two.id].edits] == ["Hi two"]


def test_two_bots_first_messages_to_one_person_are_both_recorded_sent(platform_channels, control):
    """Both are message 1 of their bot's chat: "<chat>:1" twice, in two conversations."""
    sent = []
    for n, token in ((1, "111:one"), (2, "222:two")):
        bot = platform_sender("telegram", f"bot_{n}", token)
        _, conversation = _lead(bot, 1, "444")
        control.post("users", platform="telegram", id="444", started=True)
        [message] = messages_create(
            [
                Message(
                    conversation=conversation,
                    sender=bot,
                    channel="telegram",
                    direction="out",
                    status="queued",
                    body=f"Hello from bot {n}",
                )
            ]
        )
        assert message_send(message_id=message.id) == "sent"
        message.refresh_from_db()
        sent.append((message.status, message.provider_message_id))
    assert sent == [("sent", "444:1"), ("sent", "444:1")]


# --- Email: the Message-ID kept, the reply linked by In-Reply-To / References ---------------


@pytest.fixture
def mailbox(platform_channels):
    return platform_sender("email", "anna@acme.example")


def _send(conversation, subject: str = "") -> Message:
    [m] = messages_create(
        [
            Message(
                conversation=conversation,
                sender=conversation.sender,
                channel="email",
                direction="out",
                status="queued",
                subject=subject,
                body="Hi there",
            )
        ]
    )
    assert message_send(message_id=m.id) == "sent"
    m.refresh_from_db()
    return m


def _mail(
    sender: str, message_id: str, body: str, *, in_reply_to: str = "", references: str = ""
) -> bytes:
    headers = [
        f"From: {sender}",
        "To: anna@acme.example",
        "Subject: Re: Quick question",
        f"Message-ID: {message_id}",
    ]
    if in_reply_to:
        headers.append(f"In-Reply-To: {in_reply_to}")
    if references:
        headers.append(f"References: {references}")
    return ("\r\n".join([*headers, "Content-Type: text/plain", "", body, ""])).encode()


def test_an_email_reply_keeps_its_message_id_and_is_linked_to_the_step_it_answers(client, mailbox):
    _, conversation = _lead(mailbox, 1)
    first = _send(conversation, "Quick question")
    second = _send(conversation)  # threaded under the first
    # Replying from the first email although the follow-up came since.
    mail = _mail(
        "Lead One <lead1@example.com>",
        "<answer-1@mail.example.com>",
        "Yes, the first idea sounds good.",
        in_reply_to=first.provider_message_id,
        references=first.provider_message_id,
    )
    assert deliver(client, "email", mail) == 200
    # A second reply, to the follow-up, whose References name both of ours.
    later = _mail(
        "Lead One <lead1@example.com>",
        "<answer-2@mail.example.com>",
        "And the second too.",
        in_reply_to=second.provider_message_id,
        references=f"{first.provider_message_id} {second.provider_message_id}",
    )
    assert deliver(client, "email", later) == 200
    assert process_all() == ["reply", "reply"]
    replies = _replies()
    assert [(m.provider_message_id, m.reply_to) for m in replies] == [
        ("<answer-1@mail.example.com>", first),
        ("<answer-2@mail.example.com>", second),
    ]


def test_a_message_id_another_sender_repeats_never_drops_their_reply(client, mailbox):
    """The same Message-ID from two addresses is two mails; the same mail twice is one."""
    first, conv1 = _lead(mailbox, 1)
    second, conv2 = _lead(mailbox, 2)
    ours1, ours2 = _send(conv1, "Hello"), _send(conv2, "Hello")
    one = _mail("lead1@example.com", "<same@id>", "Sure.", in_reply_to=ours1.provider_message_id)
    two = _mail("lead2@example.com", "<same@id>", "Yes!", in_reply_to=ours2.provider_message_id)
    for mail in (one, two, one, two):  # and each again: a repeat of its own mail
        assert deliver(client, "email", mail) == 200
    assert process_all() == ["reply", "reply"]
    replies = _replies()
    assert [(m.conversation_id, m.provider_message_id, m.body) for m in replies] == [
        (conv1.id, "<same@id>", "Sure."),
        (conv2.id, "<same@id>", "Yes!"),
    ]
    for enrollment in (first, second):
        enrollment.refresh_from_db()
        assert enrollment.state == "replied"
    assert InboundEvent.objects.filter(provider="email").count() == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL")
def test_two_addresses_mails_with_one_message_id_arriving_at_once_are_both_kept(mailbox):
    """The second mail arrives while the first one's webhook has stored it and not yet
    committed: its insert waits under the unique index, then finds the id taken by another
    address and stores the mail under the id and its own address. Looked up before the
    insert, the id would have seemed free, and the insert's conflict would have dropped the
    second reply as a repeat."""
    first, conv1 = _lead(mailbox, 1)
    second, conv2 = _lead(mailbox, 2)
    ours1, ours2 = _send(conv1, "Hello"), _send(conv2, "Hello")
    one = _mail("lead1@example.com", "<same@id>", "Sure.", in_reply_to=ours1.provider_message_id)
    two = _mail("lead2@example.com", "<same@id>", "Yes!", in_reply_to=ours2.provider_message_id)
    answered: list[int] = []
    storing = Holder([lambda: answered.append(deliver(Client(), "email", one))])
    storing.start()
    storing.proceed[0].set()
    wait_until(lambda: storing.done_steps == 1 or storing.error, 10, "the first webhook")
    posting, out = in_thread(lambda: deliver(Client(), "email", two))
    try:
        wait_until(
            lambda: "at" in out or (out.get("pid") and waiting_on_a_lock(out["pid"])),
            10,
            "the second webhook to finish or wait for the first",
        )
        assert "at" not in out, "the second webhook did not meet the first one's insert"
    finally:
        storing.release.set()
        storing.join(10)
        posting.join(10)
    assert storing.error is None, storing.error
    assert (answered, out.get("result")) == ([200], 200), out.get("error")

    assert process_all() == ["reply", "reply"]
    assert [(m.conversation_id, m.body) for m in _replies()] == [
        (conv1.id, "Sure."),
        (conv2.id, "Yes!"),
    ]
    for enrollment in (first, second):
        enrollment.refresh_from_db()
        assert enrollment.state == "replied"


def test_a_reply_reusing_our_own_message_id_is_stored_without_it(client, mailbox):
    enrollment, conversation = _lead(mailbox, 1)
    ours = _send(conversation, "Hello")
    mail = _mail(
        "lead1@example.com", ours.provider_message_id, "Hi", in_reply_to=ours.provider_message_id
    )
    deliver(client, "email", mail)
    assert process_all() == ["reply"]
    [reply] = _replies()
    assert (reply.body, reply.reply_to) == ("Hi", ours)
    enrollment.refresh_from_db()
    assert enrollment.state == "replied"


# --- X: the DM event id kept; a quick reply's choice kept -------------------------------


def _x_dm(event_id: str, sender: str, text: str, **message_data) -> bytes:
    body = fixture_json("x", "dm_received")
    body["for_user_id"] = "42"
    event = body["direct_message_events"][0]
    event["id"] = event_id
    event["message_create"]["sender_id"] = sender
    event["message_create"]["message_data"].update(text=text, **message_data)
    body["users"] = {sender: {"id": sender, "name": "Xena", "screen_name": "xena"}}
    return json.dumps(body).encode()


def test_an_x_dm_keeps_its_event_id_and_a_quick_reply_keeps_its_choice(client, platform_channels):
    bot = platform_sender("x", "42")
    enrollment, _ = _lead(bot, 1, "1693649419")
    choice = {"quick_reply_response": {"type": "options", "metadata": "book-demo"}}
    deliver(client, "x", _x_dm("1247299084244979717", "1693649419", "Book a demo", **choice))
    deliver(client, "x", _x_dm("1247299084244979717", "1693649419", "Book a demo", **choice))
    assert process_all() == ["reply"]
    [reply] = _replies()
    assert reply.provider_message_id == "1247299084244979717"
    assert reply.payload == {"button": "book-demo"}
    enrollment.refresh_from_db()
    assert enrollment.state == "replied"


def test_the_x_webhook_fixture_reply_keeps_the_event_id(client, platform_channels):
    platform_sender("x", "42")
    raw = json.dumps(fixture_json("x", "dm_received")).encode()
    assert post_webhook(client, "x", raw, signed_headers("x", raw)).status_code == 200
    assert process_all() == ["reply"]
    [reply] = _replies()
    assert (reply.provider_message_id, reply.body) == ("1247299084244979717", "Hello World!")
