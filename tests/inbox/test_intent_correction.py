"""A rep relabels a reply in the thread: labels that opt out or close a deal ask first and say
what they do; a correction moves the same deal back rather than opening a second one."""

import pytest

from outreach.inbox.models import MessageIntent
from outreach.inbox.services import intent_correct
from pipelines.models import Deal
from tests import factories
from tests.inbox.helpers import campaign_with, rep, reply_from

pytestmark = pytest.mark.django_db


def _interested_reply():
    owner = rep("olga")
    camp, (email,) = campaign_with(owner)
    contact = factories.contact(1, owner=owner)
    message = reply_from(contact, email, "Sounds good, can we book a call on Thursday?")
    assert message.intent.label == "interested"
    return owner, contact, message


def test_choosing_unsubscribe_in_a_thread_asks_first_and_says_it_opts_out_and_loses_the_deal(
    client,
):
    owner, contact, message = _interested_reply()
    client.force_login(owner)
    url = f"/inbox/{message.conversation_id}/intent/{message.id}/"
    r = client.post(url, {"label": "unsubscribe"})
    page = r.content.decode()
    assert r.status_code == 200 and "Label this reply “Unsubscribe”?" in page
    assert "out of every channel" in page
    assert "from Interested to Lost" in page
    contact.refresh_from_db()
    assert contact.opted_out_at is None  # nothing happened yet
    assert Deal.objects.get(contact=contact).stage.name == "Interested"
    assert MessageIntent.objects.get(message=message).effective_label == "interested"

    r = client.post(url, {"label": "unsubscribe", "confirm": "1"})
    assert r.status_code == 302
    contact.refresh_from_db()
    assert contact.opted_out_at is not None
    assert Deal.objects.get(contact=contact).stage.name == "Lost"


def test_choosing_not_interested_in_a_thread_asks_first_and_says_the_deal_goes_to_lost(client):
    owner, contact, message = _interested_reply()
    client.force_login(owner)
    url = f"/inbox/{message.conversation_id}/intent/{message.id}/"
    page = client.post(url, {"label": "not_interested"}).content.decode()
    assert "from Interested to Lost" in page and "every channel" not in page
    assert Deal.objects.get(contact=contact).stage.name == "Interested"


def test_a_label_without_consequences_applies_at_once(client):
    owner, contact, message = _interested_reply()
    client.force_login(owner)
    r = client.post(f"/inbox/{message.conversation_id}/intent/{message.id}/", {"label": "not_now"})
    assert r.status_code == 302
    assert MessageIntent.objects.get(message=message).corrected_label == "not_now"


def test_an_unconfirmed_correction_to_unsubscribe_does_not_opt_the_contact_out():
    owner, contact, message = _interested_reply()
    intent_correct(intent=message.intent, label="unsubscribe", by=owner)
    contact.refresh_from_db()
    assert contact.opted_out_at is None


def test_correcting_not_interested_back_to_interested_reopens_the_same_deal(client):
    owner = rep("olga")
    camp, (email,) = campaign_with(owner)
    contact = factories.contact(1, owner=owner)
    message = reply_from(contact, email, "Not interested, thanks")
    assert message.intent.label == "not_interested"
    deal = Deal.objects.get(contact=contact)
    assert deal.stage.name == "Lost"

    client.force_login(owner)
    url = f"/inbox/{message.conversation_id}/intent/{message.id}/"
    assert client.post(url, {"label": "interested"}).status_code == 302

    assert Deal.objects.filter(contact=contact).count() == 1
    deal.refresh_from_db()
    assert deal.stage.name == "Interested"
    history = list(deal.history.order_by("at", "id"))
    assert [h.to_stage.name for h in history] == [
        "Contacted",
        "Replied",
        "Lost",
        "Replied",
        "Interested",
    ]
    assert history[-2].changed_by == owner and "reopened" in history[-2].reason


def test_correcting_back_and_forth_keeps_one_deal_and_its_history():
    owner, contact, message = _interested_reply()
    intent_correct(intent=message.intent, label="not_interested", by=owner, confirmed=True)
    assert Deal.objects.get(contact=contact).stage.name == "Lost"
    intent_correct(intent=MessageIntent.objects.get(message=message), label="interested", by=owner)
    deal = Deal.objects.get(contact=contact)
    assert deal.stage.name == "Interested"
    names = list(deal.history.order_by("at", "id").values_list("to_stage__name", flat=True))
    assert names == ["Contacted", "Replied", "Interested", "Lost", "Interested"]


def test_a_deal_a_rep_moved_to_won_is_not_reopened_or_doubled_by_a_later_correction():
    owner, contact, message = _interested_reply()
    deal = Deal.objects.get(contact=contact)
    from pipelines.services import deal_move

    deal_move(deal=deal, stage=deal.pipeline.stages.get(name="Won"), by=owner)
    intent_correct(intent=message.intent, label="not_now", by=owner)
    intent_correct(intent=MessageIntent.objects.get(message=message), label="interested", by=owner)
    assert list(Deal.objects.filter(contact=contact).values_list("stage__name", flat=True)) == [
        "Won"
    ]


def test_relabelling_a_lost_deals_reply_to_a_label_closing_it_elsewhere_asks_first(client):
    from pipelines.models import Stage, StageRule

    owner = rep("olga")
    camp, (email,) = campaign_with(owner)
    contact = factories.contact(1, owner=owner)
    message = reply_from(contact, email, "Not interested, thanks")
    deal = Deal.objects.get(contact=contact)
    assert deal.stage.name == "Lost"
    last = deal.pipeline.stages.order_by("-position").first().position
    wrong = Stage.objects.create(
        pipeline=deal.pipeline, name="Wrong contact", position=last + 1, kind=Stage.Kind.LOST
    )
    StageRule.objects.update_or_create(
        pipeline=deal.pipeline, event="intent:wrong_person", defaults={"stage": wrong}
    )

    client.force_login(owner)
    url = f"/inbox/{message.conversation_id}/intent/{message.id}/"
    page = client.post(url, {"label": "wrong_person"}).content.decode()
    assert "from Lost to Wrong contact" in page
    deal.refresh_from_db()
    assert deal.stage.name == "Lost"  # nothing moved before the rep confirmed
