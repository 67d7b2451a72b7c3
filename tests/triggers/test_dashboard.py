"""The triggers page: numbers that count each fire once, and a rep sees and uses only what
is theirs."""

import pytest
from django.contrib.auth.models import Group

from campaigns.triggers.models import Trigger, TriggerFire
from outreach.models import InboundEvent
from pipelines.models import Deal, Pipeline, Stage
from tests import factories
from tests.triggers import helpers

pytestmark = pytest.mark.django_db


def _fire(trigger: Trigger, contact, n: int) -> TriggerFire:
    event = InboundEvent.objects.create(provider="test", provider_event_id=f"e{n}", payload={})
    return TriggerFire.objects.create(
        trigger=trigger,
        inbound_event=event,
        contact=contact,
        outcome=TriggerFire.Outcome.FIRED,
        new_lead=True,
    )


def _rep(django_user_model, name: str):
    user = django_user_model.objects.create_user(name, password="pw-123456", is_staff=True)
    user.groups.add(Group.objects.get(name="rep"))
    return user


def test_triggers_page_counts_a_contact_with_two_deals_once(admin_client):
    trigger = helpers.trigger(channel="instagram", event_type="comment", match="any")
    two_deals, other = factories.contact(1), factories.contact(2)
    pipeline = Pipeline.objects.create(name="P")
    won = Stage.objects.create(pipeline=pipeline, name="Won", position=1, kind=Stage.Kind.WON)
    for _ in range(2):
        Deal.objects.create(contact=two_deals, pipeline=pipeline, stage=won)
    _fire(trigger, two_deals, 1)
    _fire(trigger, other, 2)
    html = admin_client.get("/triggers/").content.decode()
    row = html.split(f'id="trigger-{trigger.pk}"', 1)[1].split("</tr>", 1)[0]
    cells = [c.split("</td>")[0] for c in row.split("<td>")[1:]]
    # Matched, replies, public replies, leads, skipped, enrolled, replied, converted
    assert cells[4:] == ["2", "0", "0", "2", "0", "0", "0", "1"]


def test_a_rep_sees_only_their_teams_triggers_and_cannot_add_one(client, django_user_model):
    from core.teams import Team

    anna, bob = _rep(django_user_model, "anna"), _rep(django_user_model, "bob")
    north, south = Team.objects.create(name="North"), Team.objects.create(name="South")
    north.members.add(anna)
    south.members.add(bob)
    helpers.trigger(name="North's", team=north, channel="email", event_type="email")
    helpers.trigger(name="South's", team=south, channel="email", event_type="email")
    helpers.trigger(name="Unplaced", channel="email", event_type="email")
    client.force_login(anna)
    html = client.get("/triggers/").content.decode()
    assert "North&#x27;s" in html and "South&#x27;s" not in html and "Unplaced" not in html
    assert 'id="new-trigger"' not in html


def test_a_reps_campaign_overview_offers_only_owners_they_can_see(client, django_user_model):
    anna = _rep(django_user_model, "anna")
    _rep(django_user_model, "bob")
    client.force_login(anna)
    html = client.get("/").content.decode()
    owner_select = html.split('name="owner"', 1)[1].split("</select>", 1)[0]
    assert ">anna<" in owner_select and ">bob<" not in owner_select
