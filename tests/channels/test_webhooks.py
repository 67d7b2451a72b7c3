"""Signed inbound webhooks: forged bodies are refused and write nothing; a valid event is
stored once however often it is delivered; processing records replies and receipts."""

import copy
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from django.utils import timezone

from campaigns.models import Enrollment
from contacts.models import Identity
from outreach.models import Conversation, InboundEvent, Message
from tests import factories
from tests.channels.conftest import SECRETS, fixture_bytes, fixture_json
from tests.channels.helpers import (
    deliver,
    platform_sender,
    post_webhook,
    process_all,
    signed_headers,
)
from tests.processes import ROOT, child_env, free_port, wait_for

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("channel", "fixture"),
    [
        ("messenger", ("messenger", "inbound_text.json")),
        ("whatsapp", ("whatsapp", "inbound_text.json")),
        ("x", ("x", "dm_received.json")),
        ("telegram", ("telegram", "text_private_real.json")),
    ],
)
def test_forged_unsigned_and_modified_webhooks_get_403_and_store_nothing(
    client, platform_channels, channel, fixture
):
    body = fixture_bytes(*fixture)
    good = signed_headers(channel, body)
    forged = {k: v[:-4] + "AAAA" for k, v in good.items()}
    assert post_webhook(client, channel, body, forged).status_code == 403
    assert post_webhook(client, channel, body, {}).status_code == 403
    if channel != "telegram":  # Telegram signs nothing: its secret header is the check
        tampered = body.replace(b"e", b"E", 1)
        assert post_webhook(client, channel, tampered, good).status_code == 403
    assert InboundEvent.objects.count() == 0
    assert post_webhook(client, channel, body, good).status_code == 200
    assert InboundEvent.objects.count() == 1


def test_meta_signature_is_checked_over_the_exact_bytes_meta_sent(client, settings, fake):
    # messenger4j's real signed body and its secret: valid as sent, invalid with one byte off.
    settings.OUTREACH_CHANNELS = {
        **settings.OUTREACH_CHANNELS,
        "messenger": {
            "BACKEND": "outreach.channels.meta.backend.MessengerChannel",
            "OPTIONS": {"app_secret": "60efff025951cddde78c8d03de52cc90"},
        },
    }
    body = fixture_bytes("messenger", "signed_text_x_hub_signature.json")
    sig = "sha256=2c28be6e4b8c62b732b3487f445dbec6624868db6844b347567ebc86d7da3ad4"
    headers = {"X-Hub-Signature-256": sig}
    assert post_webhook(client, "messenger", body + b" ", headers).status_code == 403
    assert post_webhook(client, "messenger", body, headers).status_code == 200


def test_x_signature_vectors_from_x_are_accepted(client, settings):
    settings.OUTREACH_CHANNELS = {
        **settings.OUTREACH_CHANNELS,
        "x": {
            "BACKEND": "outreach.channels.x.backend.XChannel",
            "OPTIONS": {"consumer_secret": "test"},
        },
    }
    for vector in fixture_json("x", "signature_vectors_autohook"):
        headers = vector["header"]
        ok = post_webhook(client, "x", vector["body"].encode(), headers).status_code
        assert ok in (200, 400)  # signature accepted (the first vector is not JSON)
        bad = post_webhook(client, "x", vector["body"].encode() + b"x", headers).status_code
        assert bad == 403


def test_meta_handshake_echoes_the_challenge_only_with_our_verify_token(client, platform_channels):
    good = client.get(
        "/webhooks/whatsapp/",
        {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"},
    )
    bad = client.get(
        "/webhooks/whatsapp/",
        {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1158201444"},
    )
    assert (good.status_code, good.content) == (200, b"1158201444")
    assert bad.status_code == 403


def test_x_crc_answers_with_the_hmac_of_the_token(client, settings):
    settings.OUTREACH_CHANNELS = {
        **settings.OUTREACH_CHANNELS,
        "x": {
            "BACKEND": "outreach.channels.x.backend.XChannel",
            "OPTIONS": {"consumer_secret": "test"},
        },
    }
    r = client.get("/webhooks/x/", {"crc_token": "test=1&other_test=2"})
    assert r.json() == {"response_token": "sha256=25Cu3iwbbiqBTwQRzcKJZwisjf736V2Q8UaTlkfLSoc="}


def test_the_same_event_three_times_is_stored_and_counted_once(client, platform_channels):
    sender = platform_sender("whatsapp", "1122334455667")
    body = fixture_json("whatsapp", "inbound_text")
    assert [deliver(client, "whatsapp", body) for _ in range(3)] == [200, 200, 200]
    process_all()
    assert InboundEvent.objects.count() == 1
    [reply] = Message.objects.filter(direction="in")
    assert reply.body == "Body Text"
    assert reply.sender == sender
    identity = Identity.objects.get(channel="whatsapp", platform_user_id="972987654321")
    assert identity.conversations.get().last_inbound_at is not None


@pytest.mark.django_db(transaction=True)
def test_parallel_duplicate_deliveries_from_the_platform_give_one_record(
    live_server, platform_channels, control
):
    platform_sender("messenger", "PAGE1")
    control.post(
        "webhooks",
        platform="messenger",
        url=f"{live_server.url}/webhooks/messenger/",
        secret=SECRETS["meta"],
    )
    result = control.post(
        "say",
        platform="messenger",
        user="PSID9",
        account="PAGE1",
        text="interested",
        times=3,
        parallel=True,
    )
    assert result["statuses"] == [200, 200, 200]
    assert InboundEvent.objects.filter(provider="messenger").count() == 1


def test_echoes_typing_and_insights_are_acknowledged_but_not_replies(client, platform_channels):
    platform_sender("messenger", "PAGE_ID")
    assert deliver(client, "messenger", fixture_json("messenger", "message_echo")) == 200
    assert deliver(client, "x", fixture_json("x", "dm_typing")) == 200
    assert deliver(client, "x", fixture_json("x", "dm_sent_by_us_echo")) == 200
    assert (
        deliver(client, "instagram", fixture_json("instagram", "story_insights_not_a_message"))
        == 200
    )
    process_all()
    assert not Message.objects.filter(direction="in").exists()


def test_whatsapp_statuses_move_our_message_forward_and_a_late_failure_fails_it(
    client, platform_channels
):
    sender = platform_sender("whatsapp", "1122334455667")
    contact = factories.contact(1, channels=("whatsapp",))
    ours = _sent_message(contact, sender, "wamid.xyzxyz")
    deliver(client, "whatsapp", fixture_json("whatsapp", "status_read"))
    deliver(client, "whatsapp", fixture_json("whatsapp", "status_delivered"))  # out of order
    process_all()
    ours.refresh_from_db()
    assert ours.status == "read"
    deliver(client, "whatsapp", fixture_json("whatsapp", "status_failed_130472"))
    process_all()
    ours.refresh_from_db()
    assert (ours.status, ours.error_code) == ("failed", "whatsapp_130472")
    assert "experiment" in ours.error_reason


def test_an_opt_out_keyword_in_any_language_opts_the_identity_out(client, platform_channels):
    platform_sender("telegram", "acme_bot")
    for n, word in enumerate(["STOP", "Abmelden", "désabonner", "baja"]):
        body = copy.deepcopy(fixture_json("telegram", "text_private_real"))
        body["update_id"] += n
        body["message"]["chat"]["id"] = body["message"]["from"]["id"] = 1000 + n
        body["message"]["text"] = word
        body["message"]["from"]["username"] = f"user{n}"
        deliver(client, "telegram", body)
    process_all()
    assert Identity.objects.filter(channel="telegram", opted_out_at__isnull=False).count() == 4


def test_telegram_block_opts_the_identity_out(client, platform_channels):
    platform_sender("telegram", "acme_bot")
    contact = factories.contact(1, channels=("telegram",))
    Identity.objects.filter(contact=contact).update(platform_user_id="0")
    deliver(client, "telegram", fixture_json("telegram", "my_chat_member_kicked"))
    process_all()
    assert Identity.objects.get(contact=contact).opted_out_at is not None


def test_database_down_answers_503_so_the_platform_retries(platform_channels):
    port = free_port()
    env = child_env(
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/no_such_database_h4",
        TELEGRAM_WEBHOOK_SECRET=SECRETS["telegram"],
        PLATFORM_BACKENDS="true",
    )
    code = (
        "import sys; from wsgiref.simple_server import make_server;"
        "from config.wsgi import application;"
        f"make_server('127.0.0.1', {port}, application).serve_forever()"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, env=env, stderr=subprocess.DEVNULL
    )
    try:
        body = fixture_bytes("telegram", "text_private_real.json")
        url = f"http://127.0.0.1:{port}/webhooks/telegram/"
        statuses = []

        def up() -> bool:
            try:
                statuses.append(
                    httpx.post(
                        url, content=body, headers=signed_headers("telegram", body)
                    ).status_code
                )
            except httpx.ConnectError:
                return False
            return True

        wait_for(up, 20, message="the web process")
        assert statuses == [503]
    finally:
        proc.terminate()
        proc.wait(10)


def _sent_message(contact, sender, provider_id: str, status="sent", sent_at=None) -> Message:
    from outreach.sending.create import conversations_for

    identity = contact.identities.get()
    conv = conversations_for({(identity.id, sender.id)})[(identity.id, sender.id)]
    return Message.objects.create(
        conversation=conv,
        sender=sender,
        channel=sender.channel,
        direction="out",
        status=status,
        body="hi",
        provider_message_id=provider_id,
        sent_at=sent_at,
    )


def _statuses(*messages: Message) -> list[str]:
    return [Message.objects.get(id=m.id).status for m in messages]


def test_a_messenger_delivery_watermark_delivers_every_earlier_message_not_just_those_listed(
    client, platform_channels
):
    sender = platform_sender("messenger", "PAGE_ID")
    contact = factories.contact(1, channels=("messenger",))
    Identity.objects.filter(contact=contact).update(platform_user_id="USER_ID")
    body = fixture_json("messenger", "delivery")  # mids + watermark, no timestamp
    mark = datetime.fromtimestamp(
        body["entry"][0]["messaging"][0]["delivery"]["watermark"] / 1000, UTC
    )
    earlier = _sent_message(contact, sender, "mid.earlier", sent_at=mark - timedelta(hours=1))
    listed = _sent_message(
        contact, sender, "mid.1458668856218:ed81099e15d3f4f233", sent_at=mark - timedelta(seconds=1)
    )
    already_read = _sent_message(
        contact, sender, "mid.read", status="read", sent_at=mark - timedelta(hours=2)
    )
    later = _sent_message(contact, sender, "mid.later", sent_at=mark + timedelta(seconds=5))

    assert deliver(client, "messenger", body) == 200
    process_all()

    assert _statuses(earlier, listed, already_read, later) == [
        "delivered",
        "delivered",
        "read",
        "sent",
    ]


def test_an_x_read_receipt_marks_every_earlier_dm_of_that_conversation_read(
    client, platform_channels
):
    body = fixture_json("x", "dm_mark_read")
    sender = platform_sender("x", body["for_user_id"])
    reader = body["direct_message_mark_read_events"][0]
    contact = factories.contact(1, channels=("x",))
    Identity.objects.filter(contact=contact).update(platform_user_id=reader["sender_id"])
    other = factories.contact(2, channels=("x",))
    Identity.objects.filter(contact=other).update(platform_user_id="999")
    now = timezone.now()
    first = _sent_message(contact, sender, "1247300000000000001", sent_at=now - timedelta(hours=2))
    last_read = _sent_message(
        contact,
        sender,
        reader["last_read_event_id"],
        status="delivered",
        sent_at=now - timedelta(hours=1),
    )
    after = _sent_message(contact, sender, "1247320000000000001", sent_at=now)
    elsewhere = _sent_message(
        other, sender, "1247200000000000001", sent_at=now - timedelta(hours=3)
    )

    assert deliver(client, "x", body) == 200
    process_all()

    assert _statuses(first, last_read, after, elsewhere) == ["read", "read", "sent", "sent"]


def test_our_own_account_reading_an_x_conversation_marks_nothing_read(client, platform_channels):
    body = copy.deepcopy(fixture_json("x", "dm_mark_read"))
    sender = platform_sender("x", body["for_user_id"])
    event = body["direct_message_mark_read_events"][0]
    contact = factories.contact(1, channels=("x",))
    Identity.objects.filter(contact=contact).update(platform_user_id=event["sender_id"])
    ours = _sent_message(contact, sender, event["last_read_event_id"], sent_at=timezone.now())
    event["sender_id"] = body["for_user_id"]  # the brand opened the DM in X's own app

    assert deliver(client, "x", body) == 200
    process_all()

    assert _statuses(ours) == ["sent"]


def test_unreadable_json_with_a_good_signature_is_a_400(client, platform_channels):
    body = b"{not json"
    assert post_webhook(client, "x", body, signed_headers("x", body)).status_code == 400


def _whatsapp_message(n: int, **fields) -> dict:
    body = copy.deepcopy(fixture_json("whatsapp", "inbound_text"))
    msg = body["entry"][0]["changes"][0]["value"]["messages"][0]
    del msg["text"]
    msg.update(id=f"wamid.IN{n}", **fields)
    return body


def _whatsapp_lead_in_a_sequence():
    sender = platform_sender("whatsapp", "1122334455667")
    contact = factories.contact(1, channels=("whatsapp",))
    Identity.objects.filter(contact=contact).update(platform_user_id="972987654321")
    ours = _sent_message(contact, sender, "wamid.OURS")
    camp = factories.campaign(senders=[sender], steps=(("whatsapp", 0), ("whatsapp", 3600)))
    enrollment = Enrollment.objects.create(
        campaign=camp, contact=contact, state="waiting", current_step=2
    )
    return ours, enrollment


def test_a_reaction_or_an_unsent_message_does_not_stop_follow_ups(client, platform_channels):
    ours, enrollment = _whatsapp_lead_in_a_sequence()
    platform_sender("messenger", "PAGE_ID")
    thumbs = {"message_id": "wamid.OURS", "emoji": "\U0001f44d"}
    assert (
        deliver(client, "whatsapp", _whatsapp_message(1, type="reaction", reaction=thumbs)) == 200
    )
    taken_back = {"message_id": "wamid.OURS"}  # a removed reaction comes without an emoji
    assert deliver(client, "whatsapp", _whatsapp_message(2, type="reaction", reaction=taken_back))
    unsent = copy.deepcopy(fixture_json("messenger", "inbound_text"))
    unsent["entry"][0]["messaging"][0]["message"] = {"mid": "m_UNSENT", "is_deleted": True}
    assert deliver(client, "messenger", unsent) == 200
    assert InboundEvent.objects.count() == 3  # kept raw
    process_all()
    assert not Message.objects.filter(direction="in").exists()
    enrollment.refresh_from_db()
    assert enrollment.state == "waiting"
    assert Conversation.objects.get(id=ours.conversation_id).last_inbound_at is None


def test_a_whatsapp_stop_button_opts_the_contact_out_and_a_list_choice_is_its_title(
    client, platform_channels
):
    _, enrollment = _whatsapp_lead_in_a_sequence()
    chosen = {"type": "list_reply", "list_reply": {"id": "row-2", "title": "Tuesday 10:00"}}
    deliver(client, "whatsapp", _whatsapp_message(1, type="interactive", interactive=chosen))
    stop = {"type": "button_reply", "button_reply": {"id": "btn-stop", "title": "Stop"}}
    deliver(client, "whatsapp", _whatsapp_message(2, type="interactive", interactive=stop))
    assert process_all() == ["reply", "opt_out"]
    bodies = list(
        Message.objects.filter(direction="in").order_by("id").values_list("body", flat=True)
    )
    assert bodies == ["Tuesday 10:00", "Stop"]
    assert Identity.objects.get(channel="whatsapp").opted_out_at is not None
    enrollment.refresh_from_db()
    assert enrollment.state in ("replied", "stopped")


def test_a_template_quick_reply_button_is_a_reply_with_its_text(client, platform_channels):
    _whatsapp_lead_in_a_sequence()
    pressed = {"payload": "STOP_PROMOS", "text": "Stop promotions"}
    deliver(client, "whatsapp", _whatsapp_message(1, type="button", button=pressed))
    assert process_all() == ["reply"]
    assert Message.objects.get(direction="in").body == "Stop promotions"


@pytest.mark.parametrize(
    ("channel", "body"),
    [
        ("messenger", []),
        ("messenger", {"entry": "abc"}),
        ("messenger", {"entry": [{"messaging": [1]}]}),
        (
            "whatsapp",
            {
                "entry": [
                    {
                        "changes": [
                            {
                                "value": {
                                    "statuses": [{"id": "w", "status": "failed", "errors": ["x"]}]
                                }
                            }
                        ]
                    }
                ]
            },
        ),
        ("x", []),
        ("telegram", []),
        ("telegram", {"update_id": 1, "message": "x"}),
    ],
)
def test_a_signed_body_of_the_wrong_shape_is_a_400_and_stores_nothing(
    client, platform_channels, channel, body
):
    assert deliver(client, channel, body) == 400
    assert not InboundEvent.objects.exists()


def test_a_reply_from_a_whatsapp_contacts_new_number_stays_in_their_conversation(
    client, platform_channels
):
    ours, enrollment = _whatsapp_lead_in_a_sequence()  # wa_id 972987654321
    identity = ours.conversation.identity
    changed = fixture_json("whatsapp", "system_user_changed_number")  # to 972912345678
    assert deliver(client, "whatsapp", changed) == 200
    process_all()
    identity.refresh_from_db()
    assert (identity.platform_user_id, identity.value) == ("972912345678", "+972912345678")

    reply = _whatsapp_message(
        2, type="text", text={"body": "Yes please"}, **{"from": "972912345678"}
    )
    deliver(client, "whatsapp", reply)
    process_all()

    [inbound] = Message.objects.filter(direction="in")
    assert inbound.conversation == ours.conversation
    assert Identity.objects.filter(channel="whatsapp").count() == 1
    enrollment.refresh_from_db()
    assert enrollment.state == "replied"


def test_a_whatsapp_number_change_to_a_number_another_contact_has_warns_and_moves_nothing(
    client, platform_channels, caplog
):
    ours, _ = _whatsapp_lead_in_a_sequence()
    other = factories.contact(2, channels=("whatsapp",))
    Identity.objects.filter(contact=other).update(value="+972912345678")

    deliver(client, "whatsapp", fixture_json("whatsapp", "system_user_changed_number"))
    process_all()

    rows = Identity.objects.filter(channel="whatsapp").order_by("id")
    assert [(i.contact_id, i.platform_user_id, i.value) for i in rows] == [
        (ours.conversation.identity.contact_id, "972987654321", "lead1_whatsapp"),
        (other.id, "", "+972912345678"),
    ]
    assert "already has" in caplog.text
