"""The app's own pages offer and accept only what the acting user may see or name.

Each menu (owner, "then" campaign, inbox filter, assignee) lists only visible rows, and a
posted id of another team's row is refused with nothing changed (issue #16, item 1).
"""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from campaigns.models import Campaign, Enrollment
from contacts.imports import contact_import_run, contact_import_start
from contacts.models import ContactImport
from outreach.models import Conversation, Message

pytestmark = pytest.mark.django_db

CSV = b"email,first_name\nnew1@example.org,Nia\nnew2@example.org,Noa\n"


def signed_in(client, user):
    client.force_login(user)
    return client


def options(html: str, name: str) -> set[str]:
    """The labels of the <option>s of the <select name=...> in a page."""
    select = re.search(rf'<select[^>]* name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert select, f"no <select name={name}> on the page"
    return {label.strip() for label in re.findall(r"<option[^>]*>([^<]*)</option>", select[1])}


def upload(client, **fields):
    return client.post(
        "/contacts/imports/",
        {"file": SimpleUploadedFile("leads.csv", CSV), "mode": "update", **fields},
    )


# --- /contacts/imports/ ---------------------------------------------------------------------


def test_import_owner_menu_lists_only_assignable_users(client, two_teams):
    t = two_teams
    rep_menu = options(signed_in(client, t.ann).get("/contacts/imports/").content.decode(), "owner")
    assert {"ann"} <= rep_menu and not {"art", "nora", "sid", "sam", "root"} & rep_menu
    manager_menu = options(
        signed_in(client, t.nora).get("/contacts/imports/").content.decode(), "owner"
    )
    assert {"nora", "ann", "art"} <= manager_menu and not {"sid", "sam", "root"} & manager_menu


def test_import_then_menu_lists_only_visible_campaigns(client, two_teams):
    t = two_teams
    menu = options(signed_in(client, t.ann).get("/contacts/imports/").content.decode(), "then")
    assert "Enrol into campaign: Ann Outreach" in menu
    assert not {"Enrol into campaign: Art Outreach", "Enrol into campaign: Sid Outreach"} & menu


def test_rep_cannot_make_another_teams_rep_the_owner_of_an_import(client, two_teams):
    t = two_teams
    response = upload(signed_in(client, t.ann), owner=t.sid.pk)
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not ContactImport.objects.exists()


def test_rep_cannot_enrol_import_into_invisible_campaign_and_no_email_goes(client, two_teams):
    t = two_teams
    theirs = t.rows["sid"].campaign
    response = upload(signed_in(client, t.ann), then=f"campaign:{theirs.pk}")
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not ContactImport.objects.exists()
    assert not Enrollment.objects.filter(campaign=theirs).exists()
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()


def test_import_whose_campaign_moved_to_another_team_enrols_nobody(client, two_teams):
    """Chosen while visible, the campaign is checked again when the rows arrive."""
    t = two_teams
    campaign = t.rows["ann"].campaign
    response = upload(signed_in(client, t.ann), then=f"campaign:{campaign.pk}")
    assert response.status_code == 302
    imp = ContactImport.objects.get()
    Campaign.objects.filter(pk=campaign.pk).update(owner=t.sid)  # handed to South meanwhile
    contact_import_start(contact_import=imp, mapping=imp.mapping)
    contact_import_run(contact_import_id=imp.pk)
    imp.refresh_from_db()
    assert imp.created == 2
    assert not Enrollment.objects.filter(campaign=campaign).exists()


def test_import_into_a_visible_campaign_still_enrols(client, two_teams):
    t = two_teams
    campaign = t.rows["ann"].campaign
    upload(signed_in(client, t.ann), then=f"campaign:{campaign.pk}")
    imp = ContactImport.objects.get()
    assert imp.owner == t.ann  # a rep's import is theirs, so they see what it creates
    contact_import_start(contact_import=imp, mapping=imp.mapping)
    contact_import_run(contact_import_id=imp.pk)
    assert Enrollment.objects.filter(campaign=campaign).count() == 2


def test_rep_import_does_not_change_another_teams_contact(client, two_teams):
    """An "update" import matches existing contacts by email: one of another team's is
    reported as a failed row and left as it was (no new name, tag or owner)."""
    t = two_teams
    theirs = t.rows["sid"].contact
    email = theirs.identities.get().value
    csv = f"email,first_name\n{email},Hijacked\nfresh@example.org,Fay\n".encode()
    signed_in(client, t.ann).post(
        "/contacts/imports/",
        {"file": SimpleUploadedFile("l.csv", csv), "mode": "update", "tags": "vip"},
    )
    imp = ContactImport.objects.get()
    contact_import_start(contact_import=imp, mapping=imp.mapping)
    contact_import_run(contact_import_id=imp.pk)
    imp.refresh_from_db()
    assert (imp.created, imp.updated, imp.failed) == (1, 0, 1)
    theirs.refresh_from_db()
    assert theirs.first_name == "SidLead" and theirs.owner == t.sid
    assert not theirs.tags.exists()


# --- the inbox --------------------------------------------------------------------------------


def test_inbox_campaign_filter_lists_only_visible_campaigns(client, two_teams):
    t = two_teams
    menu = options(signed_in(client, t.ann).get("/inbox/").content.decode(), "campaign")
    assert "Ann Outreach" in menu
    assert not {"Art Outreach", "Sid Outreach"} & menu
    manager_menu = options(signed_in(client, t.nora).get("/inbox/").content.decode(), "campaign")
    assert {"Ann Outreach", "Art Outreach"} <= manager_menu and "Sid Outreach" not in manager_menu


def test_inbox_assign_menu_lists_only_assignable_users(client, two_teams):
    t = two_teams
    convo = t.rows["ann"].conversation
    page = signed_in(client, t.nora).get(f"/inbox/{convo.pk}/").content.decode()
    menu = options(page, "user")
    assert {"nora", "ann", "art"} <= menu and not {"sid", "sam", "root"} & menu
    rep_menu = options(signed_in(client, t.ann).get(f"/inbox/{convo.pk}/").content.decode(), "user")
    assert "ann" in rep_menu and not {"art", "sid", "nora"} & rep_menu


def test_rep_cannot_assign_conversation_to_another_teams_rep(client, two_teams):
    t = two_teams
    convo = t.rows["ann"].conversation
    response = signed_in(client, t.ann).post(f"/inbox/{convo.pk}/assign/", {"user": t.sid.pk})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    convo.refresh_from_db()
    assert convo.assigned_to is None
    # ... so sid still cannot open it.
    assert signed_in(client, t.sid).get(f"/inbox/{convo.pk}/").status_code == 404


def test_manager_cannot_hand_a_conversation_to_another_team(client, two_teams):
    t = two_teams
    convo = t.rows["ann"].conversation
    refused = signed_in(client, t.nora).post(f"/inbox/{convo.pk}/assign/", {"user": t.sid.pk})
    assert refused.status_code == 400
    assert Conversation.objects.get(pk=convo.pk).assigned_to is None
    done = client.post(f"/inbox/{convo.pk}/assign/", {"user": t.art.pk})
    assert done.status_code == 302
    assert Conversation.objects.get(pk=convo.pk).assigned_to == t.art


# --- the campaign builder and the pipeline board -----------------------------------------------


def test_builder_offers_and_accepts_only_your_senders(client, two_teams):
    t = two_teams
    page = signed_in(client, t.ann).get("/campaigns/new/").content.decode()
    assert "AnnBox" in page and "SidBox" not in page and "ArtBox" not in page
    response = client.post(
        "/campaigns/new/",
        {
            "name": "Sneaky",
            "sequence": t.rows["ann"].campaign.sequence_id,
            "senders": [t.rows["sid"].sender.pk],
        },
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Campaign.objects.filter(name="Sneaky").exists()


def test_a_campaign_never_gets_a_sender_its_owner_cannot_see(two_teams):
    """campaign_create, which the builder calls, checks the senders again."""
    from campaigns.builder import campaign_create

    t = two_teams
    with pytest.raises(ValueError, match="may not send from"):
        campaign_create(
            name="Sneaky",
            sequence=t.rows["ann"].campaign.sequence,
            senders=[t.rows["ann"].sender, t.rows["sid"].sender],
            owner=t.ann,
        )
    assert not Campaign.objects.filter(name="Sneaky").exists()


def test_builder_audience_refuses_another_teams_import(client, two_teams):
    t = two_teams
    upload(signed_in(client, t.sid))  # South's import
    theirs = ContactImport.objects.get(created_by=t.sid)
    campaign = Campaign.objects.create(
        name="Draft", sequence=t.rows["ann"].campaign.sequence, owner=t.ann
    )
    signed_in(client, t.ann)
    page = client.get(f"/campaigns/{campaign.pk}/build/audience/").content.decode()
    assert "leads.csv" not in page
    response = client.post(
        f"/campaigns/{campaign.pk}/build/audience/", {"contact_import": theirs.pk}
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Enrollment.objects.filter(campaign=campaign).exists()


def test_rep_cannot_move_another_teams_deal_on_the_board(client, two_teams):
    t = two_teams
    deal = t.rows["sid"].deal
    won = t.pipeline.stages.get(name="Won")
    response = signed_in(client, t.ann).post(f"/pipelines/deals/{deal.pk}/move/", {"stage": won.pk})
    assert response.status_code == 404
    deal.refresh_from_db()
    assert deal.stage == t.stage
    board = client.get(f"/pipelines/{t.pipeline.pk}/").content.decode()
    assert "AnnLead" in board and "SidLead" not in board
