"""Trigger matching and the firing rules, with signed webhooks posted to the Django test
client and processed in this process (the worker path is covered end to end elsewhere)."""

import copy
import time

import pytest

from campaigns.models import Enrollment
from campaigns.triggers.matching import keyword_matches, keywords_of, pattern_matches
from campaigns.triggers.models import Trigger, TriggerFire
from contacts.models import Contact, Identity, Tag
from outreach.models import InboundEvent, Message
from tests import factories
from tests.channels.conftest import fixture_json
from tests.channels.helpers import deliver, platform_sender, process_all
from tests.triggers import helpers

pytestmark = pytest.mark.django_db


def comment(n: int, text: str, *, user: str = "777", media: str = "POST1") -> dict:
    body = copy.deepcopy(fixture_json("instagram", "comment"))
    entry = body["entry"][0]
    entry["id"], entry["time"] = "IG1", int(time.time())  # written just now
    value = entry["changes"][0]["value"]
    value.update({"id": f"1786579934808{n:04d}", "text": text})
    value["from"] = {"id": user, "username": f"user{user}"}
    value["media"]["id"] = media
    return body


@pytest.mark.parametrize(
    ("keywords", "text", "expected"),
    [
        ("PRICE", "price?", True),
        ("PRICE", "What's the PRICE!", True),
        ("price", "priceless", False),
        ("price", "pricey", False),
        ("preis", "Was ist der PREIS?", True),
        ("straße", "STRASSE bitte", True),  # German ß folds to ss
        ("précio", "PRÉCIO por favor", True),
        ("цена", "Какая ЦЕНА?", True),
        ("цена", "ценами", False),
        ("価格", "価格を教えて", True),  # no spaces between Japanese words
        ("info, link", "send the LINK pls", True),
    ],
)
def test_keywords_match_whole_words_in_any_case_and_language(keywords, text, expected):
    assert keyword_matches(text, keywords_of(keywords)) is expected


def test_a_catastrophic_regex_times_out_instead_of_hanging():
    assert pattern_matches(r"(a+)+$", "a" * 40 + "!") is False
    assert pattern_matches(r"order\s*#?\d{4}", "my ORDER #1234") is True


def test_a_regex_trigger_refuses_an_invalid_or_overlong_pattern():
    from django.core.exceptions import ValidationError

    for bad in ["(unclosed", "a" * 201]:
        t = Trigger(name="x", channel="instagram", event_type="dm", match="regex", pattern=bad)
        with pytest.raises(ValidationError):
            t.clean()


def test_a_trigger_refuses_an_event_its_channel_never_produces():
    from django.core.exceptions import ValidationError

    for channel, event in [("telegram", "comment"), ("whatsapp", "story_reply"), ("x", "email")]:
        t = Trigger(name="x", channel=channel, event_type=event, match="any")
        with pytest.raises(ValidationError) as refused:
            t.clean()
        assert "event_type" in refused.value.message_dict
    Trigger(name="x", channel="telegram", event_type="deep_link", match="any").clean()


def test_a_comment_without_the_keyword_does_nothing(client, platform_channels):
    ig = platform_sender("instagram", "IG1")
    helpers.trigger(
        channel="instagram", sender=ig, event_type="comment", keywords="price", reply_body="Hi"
    )
    assert deliver(client, "instagram", comment(1, "priceless photo!")) == 200
    assert process_all() == ["comment"]
    assert not TriggerFire.objects.exists()
    assert not Message.objects.filter(direction="out").exists()


def test_a_comment_under_another_post_does_nothing(client, platform_channels):
    ig = platform_sender("instagram", "IG1")
    helpers.trigger(
        channel="instagram", sender=ig, event_type="comment", post_id="POST1", keywords="price"
    )
    deliver(client, "instagram", comment(1, "price?", media="POST2"))
    process_all()
    assert not TriggerFire.objects.exists()


def test_a_redelivered_comment_webhook_fires_the_trigger_once(client, platform_channels):
    ig = platform_sender("instagram", "IG1")
    helpers.trigger(
        channel="instagram", sender=ig, event_type="comment", keywords="price", reply_body="Hi"
    )
    body = comment(1, "price?")
    assert [deliver(client, "instagram", body) for _ in range(3)] == [200, 200, 200]
    process_all()
    # Even a forced re-processing of the stored event (the sweeper after a crash) is a no-op.
    from outreach.inbound.process import inbound_event_process

    InboundEvent.objects.update(processed_at=None)
    inbound_event_process(event_id=InboundEvent.objects.get().id)
    assert TriggerFire.objects.count() == 1
    assert Message.objects.filter(direction="out").count() == 1


def test_an_opted_out_person_is_not_answered(client, platform_channels):
    ig = platform_sender("instagram", "IG1")
    helpers.trigger(
        channel="instagram", sender=ig, event_type="comment", keywords="price", reply_body="Hi"
    )
    contact = factories.contact(1, channels=("instagram",))
    Identity.objects.filter(contact=contact).update(platform_user_id="777")
    Contact.objects.filter(id=contact.id).update(opted_out_at="2025-01-01T00:00Z")
    deliver(client, "instagram", comment(1, "price?"))
    process_all()
    assert TriggerFire.objects.get().outcome == "blocked"
    assert not Message.objects.filter(direction="out").exists()


def test_our_own_echo_fires_nothing(client, platform_channels):
    ms = platform_sender("messenger", "PAGE_ID")
    helpers.trigger(channel="messenger", sender=ms, event_type="dm", match="any", reply_body="Hi")
    deliver(client, "messenger", fixture_json("messenger", "message_echo"))
    process_all()
    assert not TriggerFire.objects.exists()


def test_a_dm_keyword_in_german_enrols_at_the_chosen_step_and_assigns_round_robin(
    client, platform_channels, django_user_model
):
    from core.teams import Team

    ms = platform_sender("messenger", "PAGE1")
    team = Team.objects.create(name="Inbound")
    reps = [django_user_model.objects.create_user(f"rep{n}") for n in range(2)]
    team.members.set(reps)
    camp = helpers.campaign([ms], (("messenger", 0), ("messenger", 3600), ("messenger", 7200)))
    helpers.trigger(
        channel="messenger",
        sender=ms,
        event_type="dm",
        keywords="price, preis",
        campaign=camp,
        start_step=2,
        assign_team=team,
    )
    for n, text in enumerate(["Was kostet das? PREIS bitte", "price?", "hello"]):
        body = copy.deepcopy(fixture_json("messenger", "inbound_text"))
        event = body["entry"][0]["messaging"][0]
        body["entry"][0]["id"] = "PAGE1"
        event["sender"]["id"] = f"PSID{n}"
        event["message"] = {"mid": f"m_{n}", "text": text}
        deliver(client, "messenger", body)
    process_all()
    enrolled = Enrollment.objects.filter(campaign=camp).order_by("id")
    assert [e.current_step for e in enrolled] == [2, 2]
    owners = [e.contact.owner_id for e in enrolled]
    assert owners == [reps[0].id, reps[1].id]
    assert Tag.objects.count() == 0


def test_the_private_reply_goes_to_the_comment_once_and_then_the_gate_holds(
    client, platform_channels, control
):
    from outreach.sending.deliver import message_send

    ig = platform_sender("instagram", "IG1")
    control.post("accounts", id="IG1")
    helpers.trigger(
        channel="instagram", sender=ig, event_type="comment", keywords="price", reply_body="Hi"
    )
    said = control.post("comment", platform="instagram", user="777", account="IG1", text="x")
    deliver(client, "instagram", comment(1, "price?") | {})
    # Point the stored comment at the one the fake platform knows.
    process_all()
    from outreach.models import Conversation

    Conversation.objects.update(comment_id=said["comment_id"])
    reply = Message.objects.get(direction="out")
    assert message_send(message_id=reply.id) == "sent", reply.hold_reason
    [sent] = control.outbox("instagram")
    assert sent["body"]["recipient"] == {"comment_id": said["comment_id"]}
    # A second message in the conversation may not reuse the comment: the gate holds it.
    again = Message.objects.create(
        conversation=reply.conversation,
        sender=ig,
        channel="instagram",
        direction="out",
        status="queued",
        body="more",
    )
    assert message_send(message_id=again.id) == "skipped"
    again.refresh_from_db()
    assert again.hold_reason.startswith("platform policy")


def test_a_facebook_page_comment_from_the_feed_webhook_gets_the_private_reply(
    client, platform_channels
):
    page = platform_sender("messenger", "PAGE_ID")
    helpers.trigger(
        channel="messenger", sender=page, event_type="comment", keywords="price", reply_body="Hi"
    )
    body = copy.deepcopy(fixture_json("messenger", "feed_comment"))  # Meta's own shape
    body["entry"][0]["changes"][0]["value"]["created_time"] = int(time.time())
    edited = copy.deepcopy(body)
    edited["entry"][0]["changes"][0]["value"]["verb"] = "edited"

    assert deliver(client, "messenger", body) == 200
    assert deliver(client, "messenger", edited) == 200
    process_all()

    reply = Message.objects.get(direction="out")
    assert reply.conversation.comment_id == "PAGE_POST_ID_COMMENT_ID"
    assert reply.conversation.identity.contact.first_name == "Cinderella Hoffmann"
    assert TriggerFire.objects.get().post_id == "PAGE_ID_PAGE_POST_ID"


def test_our_own_comment_on_the_page_feed_fires_nothing(client, platform_channels):
    page = platform_sender("messenger", "PAGE_ID")
    helpers.trigger(channel="messenger", sender=page, event_type="comment", match="any")
    body = copy.deepcopy(fixture_json("messenger", "feed_comment"))
    body["entry"][0]["changes"][0]["value"]["from"] = {"id": "PAGE_ID", "name": "Our page"}
    assert deliver(client, "messenger", body) == 200
    process_all()
    assert not TriggerFire.objects.exists()
    assert not Contact.objects.exists()
