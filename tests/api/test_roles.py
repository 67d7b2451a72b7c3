"""A rep sees only their own rows, a manager their team's, an admin everything,
in the API and in the admin, through the same scoping functions."""

import pytest

from contacts.access import contacts_visible_to

pytestmark = pytest.mark.django_db

ENDPOINTS = {
    "contacts": lambda o: o.contact.id,
    "conversations": lambda o: o.conversation.id,
    "messages": lambda o: o.message.id,
    "campaigns": lambda o: o.campaign.id,
    "deals": lambda o: o.deal.id,
}


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_rep_lists_only_their_own_rows(world, api, endpoint):
    own, other = ENDPOINTS[endpoint](world.alices), ENDPOINTS[endpoint](world.bobs)
    listed = ids(api(world.alice).get(f"/api/v1/{endpoint}/"))
    assert own in listed
    assert other not in listed


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_rep_gets_404_for_another_reps_row_by_id(world, api, endpoint):
    other = ENDPOINTS[endpoint](world.bobs)
    client = api(world.alice)
    assert client.get(f"/api/v1/{endpoint}/{other}/").status_code == 404


def test_rep_cannot_change_or_delete_another_reps_contact(world, api):
    client = api(world.alice)
    url = f"/api/v1/contacts/{world.bobs.contact.id}/"
    assert client.patch(url, {"first_name": "Hacked"}, format="json").status_code == 404
    assert client.delete(url).status_code in (403, 404)  # reps may not delete at all
    world.bobs.contact.refresh_from_db()
    assert world.bobs.contact.first_name == "BobLead"


def test_rep_cannot_reply_in_another_reps_conversation(world, api):
    url = f"/api/v1/conversations/{world.bobs.conversation.id}/reply/"
    assert api(world.alice).post(url, {"body": "hi"}, format="json").status_code == 404


def test_rep_cannot_open_a_deal_on_another_reps_contact(world, api):
    body = {
        "contact": world.bobs.contact.id,
        "pipeline": world.stage.pipeline_id,
        "stage": world.stage.id,
    }
    response = api(world.alice).post("/api/v1/deals/", body, format="json")
    assert response.status_code == 400
    assert "contact" in response.json()


def test_manager_sees_their_teams_rows_but_not_other_reps(world, api):
    client = api(world.manager)
    for endpoint, pick in ENDPOINTS.items():
        listed = ids(client.get(f"/api/v1/{endpoint}/"))
        assert pick(world.alices) in listed, endpoint
        assert pick(world.bobs) not in listed, endpoint


def test_admin_sees_every_row(world, api):
    client = api(world.admin)
    for endpoint, pick in ENDPOINTS.items():
        listed = ids(client.get(f"/api/v1/{endpoint}/"))
        assert {pick(world.alices), pick(world.bobs)} <= listed, endpoint


def test_anonymous_requests_are_refused(world, client):
    assert client.get("/api/v1/contacts/").status_code in (401, 403)


def test_rep_sees_only_their_contacts_in_the_admin_list(world, client):
    client.force_login(world.alice)
    page = client.get("/admin/contacts/contact/")
    assert page.status_code == 200
    assert b"AliceLead" in page.content
    assert b"BobLead" not in page.content


def test_rep_cannot_open_another_reps_contact_in_the_admin(world, client):
    client.force_login(world.alice)
    response = client.get(f"/admin/contacts/contact/{world.bobs.contact.id}/change/")
    assert response.status_code in (302, 404)
    assert b"BobLead" not in response.content
    own = client.get(f"/admin/contacts/contact/{world.alices.contact.id}/change/")
    assert own.status_code == 200


@pytest.mark.parametrize(
    "path,attr",
    [
        ("outreach/conversation", "conversation"),
        ("outreach/message", "message"),
        ("campaigns/campaign", "campaign"),
        ("pipelines/deal", "deal"),
    ],
)
def test_rep_cannot_open_another_reps_rows_in_the_admin(world, client, path, attr):
    client.force_login(world.alice)
    other = getattr(world.bobs, attr)
    response = client.get(f"/admin/{path}/{other.id}/change/")
    assert response.status_code in (302, 403, 404)
    own = client.get(f"/admin/{path}/{getattr(world.alices, attr).id}/change/")
    assert own.status_code == 200


def test_manager_sees_team_contacts_in_the_admin(world, client):
    client.force_login(world.manager)
    page = client.get("/admin/contacts/contact/")
    assert b"AliceLead" in page.content
    assert b"BobLead" not in page.content


def test_inbox_uses_the_same_scoping(world):
    selectors = pytest.importorskip("outreach.selectors")
    visible = set(selectors.conversations_visible_to(world.alice).values_list("id", flat=True))
    assert world.alices.conversation.id in visible
    assert world.bobs.conversation.id not in visible


def test_roles_come_from_a_migration(world):
    from django.contrib.auth.models import Group

    assert set(Group.objects.values_list("name", flat=True)) >= {"admin", "manager", "rep"}
    rep = Group.objects.get(name="rep")
    assert rep.permissions.filter(codename="view_contact").exists()
    assert not rep.permissions.filter(codename="delete_contact").exists()
    assert contacts_visible_to(world.bob).count() == 1
