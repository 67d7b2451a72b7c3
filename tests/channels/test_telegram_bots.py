"""Several Telegram bots: an Update names the chat, never the bot, and update_id counts per
bot. Each bot posts to its own URL (/webhooks/telegram/<sender>/), so a reply is attributed
to the bot it was sent to; the shared URL still works for one bot."""

import copy
import json

import pytest

from campaigns.models import Enrollment
from contacts.models import Identity
from outreach.models import InboundEvent, Message
from outreach.sending.create import conversations_for
from tests import factories
from tests.channels.conftest import SECRETS, fixture_json
from tests.channels.helpers import platform_sender, post_webhook, process_all, signed_headers

CHAT = "408258968"


def _two_bots_and_a_lead_of_the_second():
    platform_sender("telegram", "first_bot", "111:first")
    second = platform_sender("telegram", "second_bot", "222:second")
    contact = factories.contact(1, channels=("telegram",))
    identity = contact.identities.get()
    Identity.objects.filter(id=identity.id).update(platform_user_id=CHAT)
    conv = conversations_for({(identity.id, second.id)})[(identity.id, second.id)]
    Message.objects.create(
        conversation=conv,
        sender=second,
        channel="telegram",
        direction="out",
        status="sent",
        body="Hi, saw you started the bot",
        provider_message_id=f"{CHAT}:1",
    )
    camp = factories.campaign(senders=[second], steps=(("telegram", 0), ("telegram", 3600)))
    enrollment = Enrollment.objects.create(
        campaign=camp, contact=contact, state="waiting", current_step=2
    )
    return second, enrollment


@pytest.mark.django_db(transaction=True)
def test_reply_to_second_telegram_bot_stops_follow_ups(live_server, platform_channels, control):
    second, enrollment = _two_bots_and_a_lead_of_the_second()
    control.post(
        "webhooks",
        platform="telegram",
        url=f"{live_server.url}/webhooks/telegram/{second.id}/",
        secret=SECRETS["telegram"],
    )
    said = control.post("say", platform="telegram", user=CHAT, text="Sounds good")
    assert said["statuses"] == [200]
    assert process_all() == ["reply"]
    reply = Message.objects.get(direction="in")
    assert (reply.sender, reply.body) == (second, "Sounds good")
    enrollment.refresh_from_db()
    assert enrollment.state == "replied"


@pytest.mark.django_db
def test_reply_on_the_shared_telegram_url_goes_to_the_bot_that_talked_to_the_chat(
    client, platform_channels
):
    second, enrollment = _two_bots_and_a_lead_of_the_second()
    body = fixture_json("telegram", "text_private_real")
    raw = json.dumps(body).encode()
    assert post_webhook(client, "telegram", raw, signed_headers("telegram", raw)).status_code == 200
    assert process_all() == ["reply"]
    assert Message.objects.get(direction="in").sender == second
    enrollment.refresh_from_db()
    assert enrollment.state == "replied"


@pytest.mark.django_db
def test_the_same_update_id_from_two_bots_is_two_replies(client, platform_channels):
    first = platform_sender("telegram", "first_bot", "111:first")
    second = platform_sender("telegram", "second_bot", "222:second")
    body = copy.deepcopy(fixture_json("telegram", "text_private_real"))
    raw = json.dumps(body).encode()
    headers = signed_headers("telegram", raw)
    for bot in (first, second, second):  # the last one a retried delivery
        url_ref = str(bot.id) if bot == first else "@second_bot"
        r = client.post(
            f"/webhooks/telegram/{url_ref}/",
            data=raw,
            content_type="application/json",
            headers=headers,
        )
        assert r.status_code == 200
    assert InboundEvent.objects.count() == 2
    assert process_all() == ["reply", "reply"]
    assert {m.sender for m in Message.objects.filter(direction="in")} == {first, second}


@pytest.mark.django_db
def test_a_per_bot_url_for_an_unknown_bot_or_another_channel_is_404(client, platform_channels):
    platform_sender("whatsapp", "1122334455667")
    raw = b'{"update_id": 1}'
    headers = signed_headers("telegram", raw)
    assert (
        client.post(
            "/webhooks/telegram/nobody_bot/", raw, "application/json", headers=headers
        ).status_code
        == 404
    )
    assert (
        client.post("/webhooks/whatsapp/1122334455667/", raw, "application/json").status_code == 404
    )
    assert InboundEvent.objects.count() == 0


@pytest.mark.django_db
def test_an_unsigned_request_learns_nothing_of_which_bots_exist(client, platform_channels):
    bot = platform_sender("telegram", "first_bot", "111:first")
    raw = b'{"update_id": 1}'
    for ref in (str(bot.id), "first_bot", "nobody_bot", "999999"):
        response = client.post(f"/webhooks/telegram/{ref}/", raw, "application/json")
        assert response.status_code == 403, ref
    assert InboundEvent.objects.count() == 0


@pytest.mark.django_db
def test_an_update_redelivered_after_a_bot_moved_to_its_own_url_is_stored_once(
    client, platform_channels
):
    bot = platform_sender("telegram", "first_bot", "111:first")
    raw = json.dumps(
        {"update_id": 7001, "message": {"message_id": 5, "chat": {"id": 1}, "text": "hi"}}
    ).encode()
    headers = signed_headers("telegram", raw)
    for url in ("/webhooks/telegram/", f"/webhooks/telegram/{bot.id}/"):
        assert client.post(url, raw, "application/json", headers=headers).status_code == 200
    assert InboundEvent.objects.count() == 1
