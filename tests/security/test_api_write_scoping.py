"""The REST API writes only relations the caller may see or name, and answers "not yours"
exactly as it answers "not found" (issue #16, items 1 and 6)."""

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from campaigns.models import Campaign, Enrollment
from contacts.models import Contact
from core.api_tokens import api_token_create
from pipelines.models import Deal

pytestmark = pytest.mark.django_db

MISSING = 987654321


def api(user: User) -> APIClient:
    client = APIClient()
    _, key = api_token_create(user=user, name="tests")
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def call(client: APIClient, method: str, path: str, body=None):
    if body is None:
        return getattr(client, method)(path)
    return getattr(client, method)(path, body, format="json")


def answers(client: APIClient, method: str, template: str, theirs: int, body=None) -> tuple:
    """(status, body) for another team's id and for an id that does not exist. The id itself
    is written as N in both bodies, where an error message quotes it."""

    def one(pk: int) -> tuple[int, bytes]:
        fill = {"pk": pk}
        data = {k: (pk if v == "{pk}" else v) for k, v in (body or {}).items()}
        response = call(client, method, template.format(**fill), data if body else None)
        return response.status_code, response.content.replace(str(pk).encode(), b"N")

    return one(theirs), one(MISSING)


# --- writable relations ----------------------------------------------------------------------


def test_api_refuses_another_teams_contact_on_a_deal(two_teams):
    t = two_teams
    body = {"contact": "{pk}", "pipeline": t.pipeline.pk, "stage": t.stage.pk}
    theirs, missing = answers(api(t.ann), "post", "/api/v1/deals/", t.rows["sid"].contact.pk, body)
    assert theirs == missing and theirs[0] == 400
    assert b'"contact":["Invalid pk \\"N\\" - object does not exist."]' in theirs[1]
    deal = t.rows["ann"].deal
    moved = api(t.ann).patch(
        f"/api/v1/deals/{deal.pk}/", {"contact": t.rows["sid"].contact.pk}, format="json"
    )
    assert moved.status_code == 400
    assert Deal.objects.get(pk=deal.pk).contact == t.rows["ann"].contact


def test_api_refuses_another_teams_campaign_on_a_deal(two_teams):
    t = two_teams
    deal = t.rows["ann"].deal
    theirs, missing = answers(
        api(t.ann), "patch", f"/api/v1/deals/{deal.pk}/", t.rows["sid"].campaign.pk,
        {"campaign": "{pk}"},
    )  # fmt: skip
    assert theirs == missing and theirs[0] == 400
    assert Deal.objects.get(pk=deal.pk).campaign is None


def test_api_refuses_another_teams_sender_on_a_campaign(two_teams):
    t = two_teams
    campaign = t.rows["ann"].campaign
    client = api(t.ann)
    sid_box = t.rows["sid"].sender.pk
    refused = client.patch(f"/api/v1/campaigns/{campaign.pk}/", {"senders": [sid_box]}, "json")
    missing = client.patch(f"/api/v1/campaigns/{campaign.pk}/", {"senders": [MISSING]}, "json")
    assert refused.status_code == missing.status_code == 400
    assert refused.content.replace(str(sid_box).encode(), b"N") == missing.content.replace(
        str(MISSING).encode(), b"N"
    )
    assert list(campaign.senders.all()) == [t.rows["ann"].sender]


def test_rep_cannot_make_anyone_else_the_owner_through_the_api(two_teams):
    t = two_teams
    client = api(t.ann)
    for other in (t.art, t.sid):  # a teammate or another team: a rep names only themselves
        contact = client.post("/api/v1/contacts/", {"first_name": "X", "owner": other.pk}, "json")
        assert contact.status_code == 400 and "owner" in contact.json()
        deal = client.patch(f"/api/v1/deals/{t.rows['ann'].deal.pk}/", {"owner": other.pk}, "json")
        assert deal.status_code == 400 and "owner" in deal.json()
        camp = client.patch(
            f"/api/v1/campaigns/{t.rows['ann'].campaign.pk}/", {"owner": other.pk}, "json"
        )
        assert camp.status_code == 400 and "owner" in camp.json()
    assert not Contact.objects.filter(first_name="X").exists()
    assert Deal.objects.get(pk=t.rows["ann"].deal.pk).owner == t.ann
    assert Campaign.objects.get(pk=t.rows["ann"].campaign.pk).owner == t.ann
    # Without an owner, it is the caller's.
    mine = client.post("/api/v1/contacts/", {"first_name": "Mine"}, format="json")
    assert mine.status_code == 201 and mine.json()["owner"] == t.ann.pk


def test_manager_gives_a_contact_to_their_team_but_not_to_another_team(two_teams):
    t = two_teams
    client = api(t.nora)
    contact = t.rows["ann"].contact
    refused = client.patch(f"/api/v1/contacts/{contact.pk}/", {"owner": t.sid.pk}, "json")
    missing = client.patch(f"/api/v1/contacts/{contact.pk}/", {"owner": MISSING}, "json")
    assert refused.status_code == missing.status_code == 400
    assert refused.content.replace(str(t.sid.pk).encode(), b"N") == missing.content.replace(
        str(MISSING).encode(), b"N"
    )
    moved = client.patch(f"/api/v1/contacts/{contact.pk}/", {"owner": t.art.pk}, "json")
    assert moved.status_code == 200
    assert Contact.objects.get(pk=contact.pk).owner == t.art
    created = client.post("/api/v1/contacts/", {"first_name": "Y", "owner": t.ann.pk}, "json")
    assert created.status_code == 201 and Contact.objects.get(first_name="Y").owner == t.ann


def test_admin_may_name_any_active_owner(two_teams):
    t = two_teams
    deal = t.rows["ann"].deal
    moved = api(t.root).patch(f"/api/v1/deals/{deal.pk}/", {"owner": t.sid.pk}, format="json")
    assert moved.status_code == 200 and Deal.objects.get(pk=deal.pk).owner == t.sid


def test_api_refuses_enrolling_into_another_teams_campaign_or_their_contacts(two_teams):
    t = two_teams
    client = api(t.ann)
    mine = [t.rows["ann"].contact.pk]
    theirs, missing = answers(
        client, "post", "/api/v1/enrollments/", t.rows["sid"].campaign.pk,
        {"campaign": "{pk}", "contacts": mine},
    )  # fmt: skip
    assert theirs == missing and theirs[0] == 400
    campaign = t.rows["ann"].campaign.pk
    sids = t.rows["sid"].contact.pk
    theirs, missing = (
        client.post("/api/v1/enrollments/", {"campaign": campaign, "contacts": [pk]}, "json")
        for pk in (sids, MISSING)
    )
    assert theirs.json()["not_found"] == [sids] and missing.json()["not_found"] == [MISSING]
    assert not Enrollment.objects.exists()


# --- "not yours" answers as "not found" ------------------------------------------------------


def test_api_not_yours_and_not_found_answer_the_same(two_teams):
    t = two_teams
    sid = t.rows["sid"]
    Enrollment.objects.create(campaign=sid.campaign, contact=sid.contact)
    cases = [
        ("get", "/api/v1/contacts/{pk}/", sid.contact.pk, None),
        ("patch", "/api/v1/contacts/{pk}/", sid.contact.pk, {"first_name": "x"}),
        ("put", "/api/v1/contacts/{pk}/", sid.contact.pk, {"first_name": "x"}),
        ("delete", "/api/v1/contacts/{pk}/", sid.contact.pk, None),
        ("get", "/api/v1/deals/{pk}/", sid.deal.pk, None),
        ("patch", "/api/v1/deals/{pk}/", sid.deal.pk, {"value": "5"}),
        ("delete", "/api/v1/deals/{pk}/", sid.deal.pk, None),
        ("get", "/api/v1/campaigns/{pk}/", sid.campaign.pk, None),
        ("patch", "/api/v1/campaigns/{pk}/", sid.campaign.pk, {"name": "x"}),
        ("post", "/api/v1/campaigns/{pk}/launch/", sid.campaign.pk, {"confirm_warnings": True}),
        ("post", "/api/v1/campaigns/{pk}/pause/", sid.campaign.pk, None),
        ("post", "/api/v1/campaigns/{pk}/resume/", sid.campaign.pk, None),
        ("get", "/api/v1/campaigns/{pk}/stats/", sid.campaign.pk, None),
        ("get", "/api/v1/conversations/{pk}/", sid.conversation.pk, None),
        ("post", "/api/v1/conversations/{pk}/reply/", sid.conversation.pk, {"body": "hi"}),
        ("get", "/api/v1/senders/{pk}/", sid.sender.pk, None),
        ("get", "/api/v1/enrollments/{pk}/", Enrollment.objects.get().pk, None),
        ("delete", "/api/v1/enrollments/{pk}/", Enrollment.objects.get().pk, None),
        ("get", "/api/v1/privacy/contacts/{pk}/export/", sid.contact.pk, None),
        ("post", "/api/v1/privacy/contacts/{pk}/erase/", sid.contact.pk, None),
        # Filters by a related id: an empty page for both, not an empty page for another
        # team's row and a 400 "Select a valid choice" for a missing one.
        ("get", "/api/v1/contacts/?owner={pk}", t.sid.pk, None),
        ("get", "/api/v1/deals/?contact={pk}", sid.contact.pk, None),
        ("get", "/api/v1/deals/?campaign={pk}", sid.campaign.pk, None),
        ("get", "/api/v1/deals/?owner={pk}", t.sid.pk, None),
        ("get", "/api/v1/campaigns/?owner={pk}", t.sid.pk, None),
        ("get", "/api/v1/enrollments/?campaign={pk}", sid.campaign.pk, None),
        ("get", "/api/v1/enrollments/?contact={pk}", sid.contact.pk, None),
        ("get", "/api/v1/conversations/?identity__contact={pk}", sid.contact.pk, None),
        ("get", "/api/v1/conversations/?sender={pk}", sid.sender.pk, None),
        ("get", "/api/v1/conversations/?assigned_to={pk}", t.sid.pk, None),
        ("get", "/api/v1/messages/?conversation={pk}", sid.conversation.pk, None),
    ]
    different = []
    for user in (t.ann, t.nora):  # a rep and a manager of the other team
        client = api(user)
        for method, path, pk, body in cases:
            theirs, missing = answers(client, method, path, pk, body)
            if theirs != missing or theirs[0] not in (200, 403, 404):
                different.append((user.username, method, path, theirs, missing))
    assert different == []
    assert Contact.objects.get(pk=sid.contact.pk).first_name == "SidLead"  # nothing changed
