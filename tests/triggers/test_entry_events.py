"""Deep links and ads as entry points: a Telegram /start through a contact's deep link binds
the chat and enrols; a click-to-message ad enrols the person with the ad tagged."""

import copy

import pytest

from campaigns.models import Enrollment
from campaigns.triggers.models import TriggerFire
from contacts.models import ConsentRecord, Identity
from outreach.channels.telegram.backend import start_token
from tests import factories
from tests.channels.conftest import fixture_json
from tests.channels.corpus import ROOT as INBOUND
from tests.channels.helpers import deliver, platform_sender, process_all
from tests.triggers import helpers

pytestmark = pytest.mark.django_db


def test_a_telegram_deep_link_start_binds_the_chat_to_the_contact_and_enrols_it(
    client, platform_channels
):
    bot = platform_sender("telegram", "acme_bot")
    contact = factories.contact(1, channels=("email",))
    camp = helpers.campaign([bot], (("telegram", 0),))
    helpers.trigger(
        name="Webinar link", channel="telegram", event_type="deep_link", match="any", campaign=camp
    )
    body = copy.deepcopy(fixture_json("telegram", "start_deep_link"))
    body["message"]["text"] = f"/start {start_token(contact.id)}"
    body["message"]["chat"]["id"] = body["message"]["from"]["id"] = 5550001
    assert deliver(client, "telegram", body) == 200
    assert process_all() == ["bound"]
    identity = Identity.objects.get(channel="telegram")
    assert (identity.contact_id, identity.platform_user_id) == (contact.id, "5550001")
    enrollment = Enrollment.objects.get(campaign=camp)
    assert (enrollment.contact_id, enrollment.sender_id) == (contact.id, bot.id)
    assert ConsentRecord.objects.filter(identity=identity, kind="granted").exists()


def test_a_click_to_message_ad_enrols_the_person_with_the_ad_tagged(client, platform_channels):
    page = platform_sender("messenger", "PAGE1")
    camp = helpers.campaign([page], (("messenger", 0),))
    helpers.trigger(
        name="Spring ad", channel="messenger", event_type="ad_referral", match="any", campaign=camp
    )
    body = copy.deepcopy(fixture_json("messenger", "inbound_text"))
    body["entry"][0]["id"] = "PAGE1"
    event = body["entry"][0]["messaging"][0]
    event["sender"]["id"] = "PSID42"
    event["message"] = {
        "mid": "m_ad1",
        "text": "Is this still available?",
        "referral": {
            "ref": "spring",
            "ad_id": "6045246247433",
            "source": "ADS",
            "type": "OPEN_THREAD",
            "ads_context_data": {"ad_title": "Spring sale"},
        },
    }
    deliver(client, "messenger", body)
    process_all()
    fire = TriggerFire.objects.get()
    assert fire.new_lead is True
    assert fire.enrollment.campaign == camp
    tags = list(fire.contact.tags.values_list("name", flat=True))
    assert tags == ["ad:6045246247433"]


def test_a_click_to_whatsapp_ad_fires_the_whatsapp_ad_trigger_with_the_ad_tagged(
    client, platform_channels
):
    number = platform_sender("whatsapp", "1122334455667")
    camp = helpers.campaign([number], (("whatsapp", 0),))
    ad = helpers.trigger(
        name="Succulents ad",
        channel="whatsapp",
        event_type="ad_referral",
        keywords="chat with us",  # the ad's headline: the person typed something else
        campaign=camp,
    )
    ad.clean()  # WhatsApp + ad referral is a pair a trigger may watch
    dm = helpers.trigger(name="Any WhatsApp", channel="whatsapp", event_type="dm", match="any")
    body = (INBOUND / "whatsapp" / "referral_ctwa_ad_meta_docs.json").read_bytes()

    assert deliver(client, "whatsapp", body) == 200
    process_all()

    fire = TriggerFire.objects.get()
    assert (fire.trigger, fire.new_lead) == (ad, True)
    assert fire.enrollment.campaign == camp
    assert str(fire.contact).startswith("Sheena Nelson")
    tags = list(fire.contact.tags.values_list("name", flat=True))
    assert tags == ["ad:120226305854810726"]
    assert not TriggerFire.objects.filter(trigger=dm).exists()


def test_a_story_mention_fires_only_story_mention_triggers(client, platform_channels):
    ig = platform_sender("instagram", "IG1")
    helpers.trigger(name="DMs", channel="instagram", event_type="dm", match="any")
    mention = helpers.trigger(
        name="Mentions", channel="instagram", event_type="story_mention", match="any"
    )
    body = copy.deepcopy(fixture_json("messenger", "inbound_text"))
    body["object"] = "instagram"
    body["entry"][0]["id"] = "IG1"
    event = body["entry"][0]["messaging"][0]
    event["sender"]["id"] = "IGSID5"
    event["message"] = {
        "mid": "m_story1",
        "attachments": [{"type": "story_mention", "payload": {"url": "https://x/y.jpg"}}],
    }
    deliver(client, "instagram", body)
    process_all()
    assert [f.trigger for f in TriggerFire.objects.all()] == [mention]
    assert ig.conversations.get().last_inbound_at is not None


def test_a_trigger_enrolling_into_a_finished_campaign_runs_it_again(client, platform_channels):
    from campaigns.models import Campaign
    from core.audit import AuditEntry

    bot = platform_sender("telegram", "acme_bot")
    contact = factories.contact(1, channels=("email",))
    camp = helpers.campaign([bot], (("telegram", 0),))
    Campaign.objects.filter(id=camp.id).update(status=Campaign.Status.FINISHED)
    helpers.trigger(
        name="Webinar link", channel="telegram", event_type="deep_link", match="any", campaign=camp
    )
    body = copy.deepcopy(fixture_json("telegram", "start_deep_link"))
    body["message"]["text"] = f"/start {start_token(contact.id)}"
    body["message"]["chat"]["id"] = body["message"]["from"]["id"] = 5550002
    assert deliver(client, "telegram", body) == 200
    process_all()
    assert Enrollment.objects.filter(campaign=camp, contact=contact).exists()
    camp.refresh_from_db()
    assert camp.status == Campaign.Status.RUNNING
    assert AuditEntry.objects.filter(action="campaign.reopen").count() == 1
