"""Platform events beyond plain text, through the real webhook endpoint: signed bytes from
tests/fixtures/inbound/ -> stored event -> inbound_event_process. Meta standby and handover,
edits, unsends, reactions, reply links, story replies, button payloads, Telegram callbacks,
/start and a blocked bot, and event kinds the engine does not know."""

import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from campaigns.models import Enrollment
from contacts.models import Identity
from outreach.channels.telegram.backend import start_token
from outreach.models import Conversation, InboundEvent, Message
from outreach.sending.create import conversations_for, messages_create
from outreach.sending.deliver import message_send
from tests import factories
from tests.channels.helpers import deliver, platform_sender, process_all

pytestmark = pytest.mark.django_db
INBOUND = Path(__file__).resolve().parent.parent / "fixtures" / "inbound"
PSID, PAGE = "5550001", "PAGE1"


def inbound(channel: str, name: str, **replace: str) -> dict:
    """A fixture with its placeholders (and any other exact strings) replaced."""
    text = (INBOUND / channel / name).read_text()
    for old, new in replace.items():
        text = text.replace(old, new)
    return json.loads(text)


def meta(channel: str, name: str, **replace: str) -> dict:
    ids = {"<PSID>": PSID, "<IGSID>": PSID, "<PAGE_ID>": PAGE, "<IG_ID>": PAGE, "PAGE_ID": PAGE}
    return inbound(channel, name, **(ids | replace))


def _lead(channel: str, account: str, platform_id: str, *, steps: int = 2):
    """A contact in a running sequence on `channel` who got our first message."""
    sender = platform_sender(channel, account, "123:ABC" if channel == "telegram" else "tok")
    contact = factories.contact(1, channels=(channel,))
    Identity.objects.filter(contact=contact).update(platform_user_id=platform_id)
    camp = factories.campaign(
        senders=[sender], steps=tuple((channel, 3600 * n) for n in range(steps))
    )
    enrollment = Enrollment.objects.create(
        campaign=camp, contact=contact, state="waiting", current_step=2
    )
    identity = contact.identities.get()
    conversation = conversations_for({(identity.id, sender.id)})[(identity.id, sender.id)]
    return sender, contact, enrollment, conversation


def _ours(conversation: Conversation, provider_id: str, status: str = "sent") -> Message:
    [message] = messages_create(
        [
            Message(
                conversation=conversation,
                sender=conversation.sender,
                channel=conversation.sender.channel,
                direction="out",
                status=status,
                body="Shall we talk on Tuesday?",
                provider_message_id=provider_id,
                sent_at=timezone.now() if status == "sent" else None,
            )
        ]
    )
    return message


def _replies() -> list[Message]:
    return list(Message.objects.filter(direction="in").order_by("id"))


# --- Meta: standby and the handover protocol -------------------------------------------------


def test_a_standby_message_is_a_reply_that_stops_the_sequence(client, platform_channels):
    _, _, enrollment, conversation = _lead("messenger", PAGE, PSID)
    assert deliver(client, "messenger", meta("messenger", "standby_message.json")) == 200
    assert process_all() == ["reply"]
    [reply] = _replies()
    assert reply.body == "Is anyone there? I still want the demo"
    assert reply.provider_message_id == "m_STANDBY_1"
    enrollment.refresh_from_db()
    assert enrollment.state == "replied"
    conversation.refresh_from_db()
    assert conversation.thread_owner == "other"


def test_no_automated_send_while_another_app_owns_the_thread_until_it_is_passed_back(
    client, platform_channels, control
):
    _, _, _, conversation = _lead("messenger", PAGE, PSID)
    Conversation.objects.filter(id=conversation.id).update(last_inbound_at=timezone.now())
    control.post("say", platform="messenger", user=PSID, account=PAGE, text="hi")  # window
    follow_up = _ours(conversation, "", status="queued")

    deliver(client, "messenger", meta("messenger", "take_thread_control.json"))
    assert process_all() == ["take_thread_control: owner 263902037430900"]
    assert message_send(message_id=follow_up.id) == "skipped"
    follow_up.refresh_from_db()
    assert follow_up.status == "queued"
    assert "another app (263902037430900) owns this conversation" in follow_up.hold_reason
    assert control.outbox("messenger") == []

    # A request only asks: the thread stays where it is.
    deliver(client, "messenger", meta("messenger", "request_thread_control.json"))
    assert process_all() == ["request_thread_control: owner 263902037430900"]

    deliver(client, "messenger", meta("messenger", "pass_thread_control.json"))
    assert process_all() == ["pass_thread_control: owner us"]
    follow_up.refresh_from_db()
    assert follow_up.hold_reason == "" and follow_up.not_before is None
    assert message_send(message_id=follow_up.id) == "sent"
    assert len(control.outbox("messenger")) == 1


def test_a_late_handover_event_never_overrides_a_newer_one(client, platform_channels):
    _, _, _, conversation = _lead("messenger", PAGE, PSID)
    taken = meta("messenger", "take_thread_control.json")
    taken["entry"][0]["messaging"][0]["timestamp"] += 60_000  # a minute after the pass
    deliver(client, "messenger", taken)
    deliver(client, "messenger", meta("messenger", "pass_thread_control.json"))
    late_standby = meta("messenger", "standby_message.json")
    deliver(client, "messenger", late_standby)
    assert process_all() == [
        "take_thread_control: owner 263902037430900",
        "pass_thread_control: owner 263902037430900",
        "reply",
    ]
    conversation.refresh_from_db()
    assert conversation.thread_owner == "263902037430900"


def test_a_rep_may_still_answer_a_thread_another_app_owns(platform_channels):
    from outreach.channels import get_channel
    from outreach.channels.base import PolicyContext

    backend = get_channel("messenger")
    now = timezone.now()
    context = PolicyContext(
        channel="messenger",
        now=now,
        recipient="ana",
        recipient_platform_id=PSID,
        last_inbound_at=now,
        thread_owner="263902037430900",
    )
    assert not backend.check_policy(context).allowed
    context.human_written = True
    assert backend.check_policy(context).allowed


# --- Meta: edits, unsends, reactions, reply links, stories, buttons --------------------------


def test_a_messenger_edit_updates_the_text_keeps_the_history_and_is_not_a_second_reply(
    client, platform_channels
):
    _, _, enrollment, _ = _lead("messenger", PAGE, PSID)
    original = meta("messenger", "inbound_text.json", USER_ID=PSID)
    original["entry"][0]["messaging"][0]["message"]["mid"] = "m_EDITED_1"
    deliver(client, "messenger", original)
    deliver(client, "messenger", meta("messenger", "message_edit.json"))
    assert process_all() == ["reply", "edited"]
    [reply] = _replies()
    assert reply.body == "Tuesday works better, 10:00"
    assert [e["text"] for e in reply.edits] == ["hello, text message world!"]
    assert reply.events.filter(detail="edited").count() == 1
    enrollment.refresh_from_db()
    assert enrollment.state == "replied"


def test_an_edit_processed_before_its_message_still_makes_one_reply_with_the_history(
    client, platform_channels
):
    _lead("messenger", PAGE, PSID)
    deliver(client, "messenger", meta("messenger", "message_edit.json"))
    original = meta("messenger", "inbound_text.json", USER_ID=PSID)
    original["entry"][0]["messaging"][0]["message"]["mid"] = "m_EDITED_1"
    deliver(client, "messenger", original)
    assert process_all() == ["edit of an unknown message: reply", "duplicate message"]
    [reply] = _replies()
    assert reply.body == "Tuesday works better, 10:00"
    assert [e["text"] for e in reply.edits] == ["hello, text message world!"]


def test_an_instagram_unsend_redacts_the_stored_text_and_keeps_the_fact(client, platform_channels):
    _, _, enrollment, _ = _lead("instagram", PAGE, PSID)
    deliver(client, "instagram", meta("instagram", "reply_to_mid.json"))
    deliver(client, "instagram", meta("instagram", "unsend_is_deleted.json"))
    assert process_all() == ["reply", "unsent: redacted"]
    [reply] = _replies()
    assert reply.body == "" and reply.deleted_at is not None
    assert reply.events.filter(detail="unsent by contact").exists()
    stored = InboundEvent.objects.get(provider_event_id=reply.provider_message_id)
    assert stored.payload["text"] == ""
    assert bytes(stored.raw) == b""  # the body as received held the text too
    enrollment.refresh_from_db()
    assert enrollment.state == "replied"  # it was an answer when it came


def test_an_unsend_processed_before_its_message_leaves_it_redacted(client, platform_channels):
    _lead("instagram", PAGE, PSID)
    deliver(client, "instagram", meta("instagram", "unsend_is_deleted.json"))
    deliver(client, "instagram", meta("instagram", "reply_to_mid.json"))
    assert process_all()[0].startswith("unsend of a message not stored")
    [reply] = _replies()
    assert reply.body == "" and reply.deleted_at is not None


def test_an_instagram_reply_is_linked_to_our_message_and_a_story_reply_keeps_the_story(
    client, platform_channels
):
    _, _, _, conversation = _lead("instagram", PAGE, PSID)
    ours = _ours(conversation, "m_OURS_1")
    deliver(
        client,
        "instagram",
        meta("instagram", "reply_to_mid.json", **{"<MID_OF_OUR_MESSAGE>": "m_OURS_1"}),
    )
    deliver(client, "instagram", meta("instagram", "story_reply.json"))
    assert process_all() == ["reply", "reply"]
    linked, story = _replies()
    assert linked.reply_to == ours
    assert story.payload == {
        "story": {
            "id": "17920937497157512",
            "url": "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17841405&signature=SIGNATURE",
        }
    }


def test_a_messenger_reaction_is_kept_on_our_message_and_is_not_a_reply(client, platform_channels):
    _, _, enrollment, conversation = _lead("messenger", PAGE, PSID)
    ours = _ours(conversation, "m_OURS_1")
    body = meta("messenger", "message_reaction.json", **{"<MID_OF_ReactedTo_Message>": "m_OURS_1"})
    assert deliver(client, "messenger", body) == 200
    assert process_all() == ["reaction react"]
    ours.refresh_from_db()
    assert [(r["emoji"], r["action"]) for r in ours.reactions] == [("\u2764\ufe0f", "react")]
    assert _replies() == []
    enrollment.refresh_from_db()
    assert enrollment.state == "waiting"


def test_quick_reply_and_postback_payloads_are_kept_with_the_message(client, platform_channels):
    _lead("messenger", PAGE, PSID)
    deliver(client, "messenger", meta("messenger", "quick_reply.json"))
    postback = meta(
        "messenger",
        "postback.json",
        **{"<TITLE_FOR_THE_CTA>": "Book a demo", "<USER_DEFINED_PAYLOAD>": "BOOK_DEMO"},
    )
    deliver(client, "messenger", postback)
    assert process_all() == ["reply", "reply"]
    quick, pressed = _replies()
    assert quick.payload == {"button": "DEVELOPER_DEFINED_PAYLOAD_FOR_PICKING_RED"}
    assert pressed.payload == {"button": "BOOK_DEMO", "title": "Book a demo"}


@pytest.mark.parametrize(
    ("name", "button", "body"),
    [
        ("interactive_button_reply_pywa.json", "callback_data", "title"),
        ("interactive_list_reply_pywa.json", "callback_data", "title"),
        ("template_quick_reply_button_pywa.json", "callback_data", "title"),
    ],
)
def test_whatsapp_button_and_list_ids_are_kept_and_linked_to_our_message(
    client, platform_channels, name, button, body
):
    _, _, _, conversation = _lead("whatsapp", "1122334455667", "972987654321")
    ours = _ours(conversation, "wamid.OURS")
    fixture = inbound(
        "whatsapp",
        name,
        **{'"wamid.xyzxyz=="': '"wamid.OURS"', '"id": "wamid.xyzxyz"\n': '"id": "wamid.OURS"\n'},
    )
    msg = fixture["entry"][0]["changes"][0]["value"]["messages"][0]
    msg["id"] = "wamid.IN1"
    assert deliver(client, "whatsapp", fixture) == 200
    assert process_all() == ["reply"]
    [reply] = _replies()
    assert reply.body == body
    assert reply.payload == {"button": button, "title": body}
    assert reply.reply_to == ours
    assert reply.provider_message_id == "wamid.IN1"


# --- Telegram ------------------------------------------------------------------------------


CHAT = "999999999"


def _telegram_text(update_id: int, message_id: int, text: str, **extra) -> dict:
    body = inbound("telegram", "text_private_real.json")
    body["update_id"] = update_id
    msg = body["message"]
    msg["chat"]["id"] = msg["from"]["id"] = int(CHAT)
    msg.update(message_id=message_id, text=text, **extra)
    return body


def test_a_telegram_edit_updates_the_text_and_is_never_a_second_reply(client, platform_channels):
    _, _, enrollment, conversation = _lead("telegram", "acme_bot", CHAT)
    ours = _ours(conversation, f"{CHAT}:23758")
    deliver(client, "telegram", _telegram_text(62257548, 23762, "Editing"))
    deliver(client, "telegram", inbound("telegram", "edited_message_reply_nutgram.json"))
    assert process_all() == ["reply", "edited"]
    [reply] = _replies()
    assert reply.body == "Editing this message"
    assert [e["text"] for e in reply.edits] == ["Editing"]
    assert reply.provider_message_id == f"{CHAT}:23762"
    assert reply.reply_to is None  # the first delivery did not quote our message
    enrollment.refresh_from_db()
    assert enrollment.state == "replied"
    assert ours.replies.count() == 0


def test_an_edited_telegram_start_is_not_a_second_start(client, platform_channels):
    _, contact, _, _ = _lead("telegram", "acme_bot", CHAT)
    deliver(client, "telegram", _telegram_text(1, 50, "/start"))
    edited = inbound("telegram", "edited_message_reply_nutgram.json")
    edited["edited_message"].update(message_id=50, text="/start c1_forged")
    deliver(client, "telegram", edited)
    assert process_all() == ["started", "edit of a /start: nothing to do"]
    assert Identity.objects.get(platform_user_id=CHAT).contact_id == contact.id
    assert _replies() == []


def test_a_telegram_reply_is_linked_to_the_message_of_ours_it_quotes(client, platform_channels):
    _, _, _, conversation = _lead("telegram", "acme_bot", CHAT)
    ours = _ours(conversation, f"{CHAT}:23758")
    quoted = {"message_id": 23758, "date": 1584984830, "chat": {"id": int(CHAT)}, "text": "Hi"}
    deliver(client, "telegram", _telegram_text(1, 23762, "Yes please", reply_to_message=quoted))
    assert process_all() == ["reply"]
    [reply] = _replies()
    assert reply.reply_to == ours


def test_a_telegram_button_press_is_the_contacts_choice_and_is_answered(
    client, platform_channels, control, django_capture_on_commit_callbacks
):
    _, _, enrollment, conversation = _lead("telegram", "acme_bot", "259760855")
    ours = _ours(conversation, "259760855:4071")
    body = inbound("telegram", "callback_query_telegram_bot_php.json")
    assert deliver(client, "telegram", body) == 200
    with django_capture_on_commit_callbacks(execute=True):
        assert process_all() == ["reply"]
    [choice] = _replies()
    assert choice.payload == {"button": "tasks-settings", "title": "Task Alerts"}
    assert choice.body == "Task Alerts"
    assert choice.reply_to == ours
    [answer] = control.outbox("telegram")
    assert answer["path"] == "/bot123:ABC/answerCallbackQuery"
    assert answer["body"]["callback_query_id"] == "1115664380233733737"
    enrollment.refresh_from_db()
    assert enrollment.state == "replied"


def test_a_telegram_reaction_is_kept_on_our_message_and_is_not_a_reply(client, platform_channels):
    _, _, enrollment, conversation = _lead("telegram", "acme_bot", "456")
    ours = _ours(conversation, "456:123")
    deliver(client, "telegram", inbound("telegram", "message_reaction_nutgram.json"))
    assert process_all() == ["reaction react"]
    ours.refresh_from_db()
    assert [r["emoji"] for r in ours.reactions] == ["\u2764\ufe0f \U0001f921 1234567890123456789"]
    assert _replies() == []
    enrollment.refresh_from_db()
    assert enrollment.state == "waiting"


def test_telegram_start_with_a_payload_binds_the_contact_and_without_one_starts_a_lead(
    client, platform_channels
):
    platform_sender("telegram", "acme_bot", "123:ABC")
    contact = factories.contact(1, channels=("email",))
    with_payload = inbound(
        "telegram", "command_nutgram.json", **{'"/test"': f'"/start {start_token(contact.id)}"'}
    )
    deliver(client, "telegram", with_payload)
    bare = inbound("telegram", "command_nutgram.json", **{'"/test"': '"/start"'})
    bare["update_id"] += 1
    bare["message"]["chat"]["id"] = bare["message"]["from"]["id"] = 20002
    bare["message"]["from"]["username"] = "someone_else"
    deliver(client, "telegram", bare)
    assert process_all() == ["bound", "started"]
    bound = Identity.objects.get(channel="telegram", platform_user_id="10081232")
    assert bound.contact_id == contact.id
    started = Identity.objects.get(channel="telegram", platform_user_id="20002")
    assert started.contact_id != contact.id and started.consent_at is not None
    assert _replies() == []  # a /start is not an answer


def test_a_user_who_blocks_the_bot_is_unreachable_and_their_telegram_sequence_stops(
    client, platform_channels
):
    _, _, enrollment, conversation = _lead("telegram", "acme_bot", "0")
    follow_up = _ours(conversation, "", status="queued")
    from campaigns.models import StepSend

    StepSend.objects.create(
        enrollment=enrollment,
        step=enrollment.campaign.sequence.steps.get(position=2),
        message=follow_up,
    )
    assert deliver(client, "telegram", inbound("telegram", "my_chat_member_kicked.json")) == 200
    assert process_all() == ["blocked: 1 queued message(s) cancelled"]
    identity = Identity.objects.get(channel="telegram")
    assert identity.opted_out_at is not None
    assert identity.opt_out_source == "telegram: blocked the bot"
    follow_up.refresh_from_db()
    assert follow_up.status == "cancelled"
    assert follow_up.hold_reason == "the contact blocked the bot"
    enrollment.refresh_from_db()
    assert enrollment.state == "stopped"


# --- kinds we do not handle ------------------------------------------------------------------


def test_unknown_event_kinds_are_stored_and_logged_once_never_a_500(
    client, platform_channels, caplog
):
    platform_sender("messenger", PAGE)
    platform_sender("telegram", "acme_bot", "123:ABC")
    platform_sender("whatsapp", "1122334455667")
    optin = meta("messenger", "unknown_optin.json")
    poll = {"update_id": 77, "poll_answer": {"poll_id": "1", "option_ids": [0]}}
    template = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "1234567890987654321",
                "changes": [
                    {
                        "field": "message_template_status_update",
                        "value": {"event": "APPROVED", "message_template_id": 12345678},
                    }
                ],
            }
        ],
    }
    for _ in range(2):  # a repeat delivery is the same stored event
        assert deliver(client, "messenger", optin) == 200
        assert deliver(client, "telegram", poll) == 200
        assert deliver(client, "whatsapp", template) == 200
    assert InboundEvent.objects.count() == 3
    with caplog.at_level(logging.WARNING, logger="outreach.inbound"):
        assert process_all() == [
            "unknown kind optin: stored",
            "unknown kind poll_answer: stored",
            "unknown kind message_template_status_update: stored",
        ]
        assert process_all() == []
    logged = [r for r in caplog.records if "of a kind not handled" in r.getMessage()]
    assert len(logged) == 3
    assert _replies() == []


# --- what the new fields hold is personal data -------------------------------------------


def _edited_reply_with_a_button(client) -> Message:
    _lead("messenger", PAGE, PSID)
    original = meta("messenger", "inbound_text.json", USER_ID=PSID)
    original["entry"][0]["messaging"][0]["message"] |= {
        "mid": "m_EDITED_1",
        "quick_reply": {"payload": "CALL_ME_AT_0170_1234567"},
    }
    deliver(client, "messenger", original)
    deliver(client, "messenger", meta("messenger", "message_edit.json"))
    process_all()
    [reply] = _replies()
    assert reply.edits and reply.payload
    return reply


def test_erasing_a_contact_erases_their_edit_history_and_button_payloads(client, platform_channels):
    from campaigns.privacy import contact_erase, contact_export

    reply = _edited_reply_with_a_button(client)
    exported = contact_export(contact=reply.conversation.identity.contact)
    [row] = [m for m in exported["messages"] if m["id"] == reply.id]
    assert row["edits"][0]["text"] == "hello, text message world!"
    assert row["payload"] == {"button": "CALL_ME_AT_0170_1234567"}
    contact_erase(contact=reply.conversation.identity.contact)
    reply.refresh_from_db()
    assert (reply.body, reply.edits, reply.payload) == ("", [], {})


def test_retention_blanks_edit_histories_and_payloads_with_the_bodies(
    client, platform_channels, settings
):
    from outreach.retention import message_bodies_expire

    reply = _edited_reply_with_a_button(client)
    settings.MESSAGE_BODY_RETENTION_DAYS = 30
    Message.objects.update(created_at=timezone.now() - timedelta(days=31))
    InboundEvent.objects.update(received_at=timezone.now() - timedelta(days=31))
    assert InboundEvent.objects.exclude(raw=b"").exists()
    assert message_bodies_expire() == 1
    reply.refresh_from_db()
    assert (reply.body, reply.edits, reply.payload) == ("", [], {})
    # The raw events that carried them are blanked with them, bytes as received included.
    assert not InboundEvent.objects.exclude(raw=b"").exists()
