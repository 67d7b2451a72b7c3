"""Triggers belong to a team: only its managers (and admins) add them, they answer only
from that team's accounts, and a reply that cannot render is refused at save and skipped
(never failing the inbound processing) when an old row holds one."""

import copy

import pytest
from django.utils import timezone

from campaigns.models import Enrollment
from campaigns.triggers.models import Trigger, TriggerFire
from contacts.models import ConsentRecord, Tag
from outreach.models import Message
from pipelines.models import Deal, Pipeline, Stage
from tests.channels.conftest import fixture_json
from tests.channels.helpers import deliver, process_all
from tests.templates.test_limits import DEEP_PARENS
from tests.triggers.teams import two_teams  # noqa: F401

pytestmark = pytest.mark.django_db


def dm(client, page: str, user: str, text: str, n: int) -> None:
    """A signed Messenger webhook: `user` writes `text` to the page, processed here."""
    body = copy.deepcopy(fixture_json("messenger", "inbound_text"))
    body["entry"][0]["id"] = page
    event = body["entry"][0]["messaging"][0]
    event["sender"]["id"], event["recipient"]["id"] = user, page
    event["message"] = {"mid": f"m_team{n}", "text": text}
    event["timestamp"] = int(timezone.now().timestamp() * 1000)
    assert deliver(client, "messenger", body) == 200
    process_all()


def form(**fields) -> dict:
    data = {
        "name": "Any message",
        "channel": "messenger",
        "event_type": "dm",
        "match": "any",
        "reply_body": "Thanks {{ first_name|default:'there' }}!",
        "public_reply_order": "commenter",
        "record_consent": "on",
        "start_step": 1,
    }
    return data | fields


def test_a_rep_cannot_create_a_trigger_on_the_triggers_page(client, two_teams):  # noqa: F811
    client.force_login(two_teams.a.rep)
    assert 'id="new-trigger"' not in client.get("/triggers/").content.decode()
    refused = client.post("/triggers/", form(team=two_teams.a.team.pk))
    assert refused.status_code == 403
    assert not Trigger.objects.exists()


def test_a_managers_trigger_without_a_sender_answers_only_from_its_own_teams_pages(
    client,
    platform_channels,
    two_teams,  # noqa: F811
):
    a, b = two_teams.a, two_teams.b
    pipeline = Pipeline.objects.create(name="Inbound")
    new = Stage.objects.create(pipeline=pipeline, name="New", position=1)
    won = Stage.objects.create(pipeline=pipeline, name="Won", position=2, kind=Stage.Kind.WON)
    b_deal = Deal.objects.create(contact=b.contact, pipeline=pipeline, stage=new, owner=b.rep)
    hot = Tag.objects.create(name="hot")
    client.force_login(a.manager)
    page = client.get("/triggers/").content.decode()
    assert "Campaign A" in page and "Campaign B" not in page  # the campaign menu
    assert "Team A" in page and "Team B" not in page  # the team menus
    created = client.post("/triggers/", form(team=a.team.pk, tags=[hot.pk], deal_stage=won.pk))
    assert created.status_code == 302
    trigger = Trigger.objects.get()
    assert (trigger.team, trigger.sender) == (a.team, None)

    # Team B's contact writes to Team B's page: Team A's trigger does nothing there.
    dm(client, "PAGE_B", "PSID_B", "hello", 1)
    assert Message.objects.filter(conversation__sender=b.page, direction="in").exists()
    assert not Message.objects.filter(sender=b.page, direction="out").exists()
    assert not TriggerFire.objects.exists()
    b_deal.refresh_from_db()
    assert b_deal.stage == new
    assert not b.contact.tags.exists()
    assert not ConsentRecord.objects.filter(contact=b.contact).exists()

    # Team A's contact writes to Team A's page: it fires there.
    dm(client, "PAGE_A", "PSID_A", "hello", 2)
    assert TriggerFire.objects.get().outcome == "fired"
    [reply] = Message.objects.filter(direction="out")
    assert (reply.sender, reply.body) == (a.page, "Thanks LeadA!")
    assert list(a.contact.tags.all()) == [hot]


def test_a_trigger_cannot_name_another_teams_page_or_campaign(client, two_teams):  # noqa: F811
    a, b = two_teams.a, two_teams.b
    client.force_login(two_teams.admin)
    response = client.post("/triggers/", form(team=a.team.pk, sender=b.page.pk))
    assert response.status_code == 200
    assert "This account belongs to another team." in response.content.decode()
    response = client.post("/triggers/", form(team=a.team.pk, campaign=b.campaign.pk))
    assert "This campaign belongs to another team." in response.content.decode()
    client.force_login(a.manager)  # a manager picks only a team they manage
    response = client.post("/triggers/", form(team=b.team.pk))
    assert "Select a valid choice" in response.content.decode()
    assert not Trigger.objects.exists()


def test_a_trigger_with_a_pathological_reply_is_refused_on_the_triggers_page(
    client,
    two_teams,  # noqa: F811
):
    client.force_login(two_teams.a.manager)
    response = client.post("/triggers/", form(team=two_teams.a.team.pk, reply_body=DEEP_PARENS))
    assert response.status_code == 200
    assert "nested too deeply (limit 50)" in response.content.decode()
    assert not Trigger.objects.exists()


def test_a_trigger_with_a_pathological_reply_is_refused_in_the_admin(client, two_teams):  # noqa: F811
    client.force_login(two_teams.a.manager)
    data = form(team=two_teams.a.team.pk, reply_body=DEEP_PARENS)
    data |= {"active": "on", "post_id": "", "address": "", "keywords": "", "pattern": ""}
    data |= {"sender": "", "campaign": "", "deal_stage": "", "assign_team": "", "cooldown": ""}
    response = client.post("/admin/campaigns/trigger/add/", data)
    assert response.status_code == 200
    assert "nested too deeply (limit 50)" in response.content.decode()
    assert not Trigger.objects.exists()
    # Public replies are templates too: each variant must compile.
    data |= {"reply_body": "Hi", "event_type": "comment", "public_replies": "Hi\n{{ nope }}"}
    response = client.post("/admin/campaigns/trigger/add/", data)
    assert "unknown variable &#x27;nope&#x27;" in response.content.decode()
    assert not Trigger.objects.exists()


def test_a_reply_reaches_the_inbox_and_stops_the_sequence_when_a_stored_trigger_cannot_render(
    client,
    platform_channels,
    two_teams,  # noqa: F811
):
    a = two_teams.a
    enrollment = Enrollment.objects.create(
        campaign=a.campaign, contact=a.contact, current_step=1, next_action_at=timezone.now()
    )
    # Saved before replies were compiled on save, as an old row would be.
    trigger = Trigger.objects.create(
        name="Old",
        team=a.team,
        channel="messenger",
        sender=a.page,
        event_type="dm",
        match="any",
        reply_body=DEEP_PARENS,
    )
    dm(client, "PAGE_A", "PSID_A", "Yes, tell me more", 1)
    assert Message.objects.filter(
        conversation__identity__contact=a.contact, direction="in", body="Yes, tell me more"
    ).exists()
    enrollment.refresh_from_db()
    assert enrollment.state == Enrollment.State.REPLIED
    fire = TriggerFire.objects.get(trigger=trigger)
    assert fire.outcome == "skipped" and "nested too deeply" in fire.detail
    assert not Message.objects.filter(direction="out").exists()
    assert not ConsentRecord.objects.filter(contact=a.contact).exists()


def test_in_the_admin_a_manager_changes_only_their_teams_triggers_and_a_rep_only_views(
    client,
    two_teams,  # noqa: F811
):
    a, b = two_teams.a, two_teams.b
    fields = {"channel": "messenger", "event_type": "dm", "match": "any"}
    ours = Trigger.objects.create(name="Ours", team=a.team, **fields)
    theirs = Trigger.objects.create(name="Theirs", team=b.team, **fields)
    client.force_login(a.manager)
    listing = client.get("/admin/campaigns/trigger/").content.decode()
    assert "Ours" in listing and "Theirs" not in listing
    assert client.get(f"/admin/campaigns/trigger/{ours.pk}/change/").status_code == 200
    assert client.get(f"/admin/campaigns/trigger/{theirs.pk}/change/").status_code == 302
    add = client.get("/admin/campaigns/trigger/add/").content.decode()
    team_menu = add.split('name="team"', 1)[1].split("</select>", 1)[0]
    assert "Team A" in team_menu and "Team B" not in team_menu
    client.force_login(a.rep)
    assert client.get(f"/admin/campaigns/trigger/{ours.pk}/change/").status_code == 200
    assert client.get("/admin/campaigns/trigger/add/").status_code == 403
    assert (
        client.post(f"/admin/campaigns/trigger/{ours.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert Trigger.objects.filter(pk=ours.pk).exists()


def test_a_shared_page_is_answered_only_by_triggers_naming_it_or_placed_in_no_team(
    client,
    platform_channels,
    two_teams,  # noqa: F811
):
    from tests.channels.helpers import platform_sender

    shared = platform_sender("messenger", "PAGE_SHARED")  # no owner: every team's
    fields = {"channel": "messenger", "event_type": "dm", "match": "any", "reply_body": "Hi"}
    Trigger.objects.create(name="Team A, any page", team=two_teams.a.team, **fields)
    Trigger.objects.create(name="Old, any page", **fields)  # no team could be given
    Trigger.objects.create(
        name="Team B, shared page", team=two_teams.b.team, sender=shared, **fields
    )
    dm(client, "PAGE_SHARED", "PSID_A", "hello", 1)
    fired = TriggerFire.objects.values_list("trigger__name", flat=True)
    assert sorted(fired) == ["Old, any page", "Team B, shared page"]
    dm(client, "PAGE_A", "PSID_A", "hello again", 2)
    assert TriggerFire.objects.filter(trigger__name="Team A, any page").count() == 1
    assert TriggerFire.objects.count() == 3  # the old trigger left Team A's page alone
