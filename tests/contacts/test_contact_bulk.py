"""Bulk actions on the contacts list, posted as the list's form posts them; ids of contacts
the user does not see are ignored."""

from django.test import Client

from campaigns.models import Campaign, Enrollment
from contacts.models import Contact, Tag
from tests import factories
from tests.security.teams import PASSWORD
from tests.security.test_page_writes import options


def _client(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def _ann_and_sid(two_teams):
    ann = two_teams.ann
    mine = [two_teams.rows["ann"].contact, factories.contact(50, owner=ann, first_name="Bo")]
    return mine, two_teams.rows["sid"].contact


def test_adding_a_tag_to_ticked_contacts_ignores_another_teams_contact(two_teams):
    mine, theirs = _ann_and_sid(two_teams)
    ids = [c.pk for c in (*mine, theirs)]
    response = _client(two_teams.ann).post(
        "/contacts/bulk/", {"action": "tag", "bulk_tag": " Fair  2026 ", "ids": ids}, follow=True
    )
    assert "Tag “Fair 2026” added to 2 contacts." in response.content.decode()
    tag = Tag.objects.get(name="Fair 2026")
    assert set(tag.contacts.values_list("pk", flat=True)) == {c.pk for c in mine}


def test_assigning_an_owner_only_to_someone_the_user_may_name(two_teams):
    mine, theirs = _ann_and_sid(two_teams)
    ids = [c.pk for c in (*mine, theirs)]
    nora = _client(two_teams.nora)
    response = nora.post(
        "/contacts/bulk/",
        {"action": "owner", "bulk_owner": two_teams.art.pk, "ids": ids},
        follow=True,
    )
    assert "2 contacts now owned by art." in response.content.decode()
    assert set(Contact.objects.filter(owner=two_teams.art).values_list("pk", flat=True)) == {
        *(c.pk for c in mine),
        two_teams.rows["art"].contact.pk,
    }
    theirs.refresh_from_db()
    assert theirs.owner == two_teams.sid
    # sid is not hers to name; a rep may name only herself.
    refused = nora.post(
        "/contacts/bulk/", {"action": "owner", "bulk_owner": two_teams.sid.pk, "ids": ids}
    )
    assert refused.status_code == 404
    art = _client(two_teams.art)
    assert (
        art.post(
            "/contacts/bulk/", {"action": "owner", "bulk_owner": two_teams.ann.pk, "ids": ids}
        ).status_code
        == 404
    )
    assert not Contact.objects.filter(
        owner__in=[two_teams.ann, two_teams.sid], pk__in=[c.pk for c in mine]
    ).exists()


def test_enrolling_asks_for_confirmation_with_the_count_then_enrols(two_teams):
    mine, theirs = _ann_and_sid(two_teams)
    camp = two_teams.rows["ann"].campaign
    Enrollment.objects.all().delete()
    ann = _client(two_teams.ann)
    form = {"action": "enrol", "bulk_campaign": camp.pk, "ids": [c.pk for c in (*mine, theirs)]}
    asked = ann.post("/contacts/bulk/", form).content.decode()
    assert "Enrol 2 contacts in Ann Outreach?" in asked
    assert not Enrollment.objects.exists()
    done = ann.post("/contacts/bulk/", {**form, "confirmed": "yes"}, follow=True)
    assert "2 contacts enrolled in Ann Outreach." in done.content.decode()
    assert set(Enrollment.objects.values_list("contact_id", flat=True)) == {c.pk for c in mine}
    sid_campaign = two_teams.rows["sid"].campaign
    other = {**form, "bulk_campaign": sid_campaign.pk, "confirmed": "yes"}
    assert ann.post("/contacts/bulk/", other).status_code == 404
    assert not Enrollment.objects.filter(campaign=sid_campaign).exists()


def test_opting_out_everyone_matching_the_filter_after_confirming(two_teams):
    mine, theirs = _ann_and_sid(two_teams)
    ann = _client(two_teams.ann)
    form = {"action": "opt_out", "all": "1", "q": "lead"}  # both of ann's, by email
    asked = ann.post("/contacts/bulk/", form).content.decode()
    assert "Opt out 2 contacts of every channel?" in asked
    assert not Contact.objects.filter(opted_out_at__isnull=False).exists()
    done = ann.post("/contacts/bulk/", {**form, "confirmed": "yes"}, follow=True)
    assert "2 contacts opted out of every channel." in done.content.decode()
    assert set(Contact.objects.filter(opted_out_at__isnull=False).values_list("pk", flat=True)) == {
        c.pk for c in mine
    }
    just_one = {"action": "opt_out", "all": "1", "q": "Bo", "confirmed": "yes"}
    assert (
        "0 contacts opted out"
        in ann.post("/contacts/bulk/", just_one, follow=True).content.decode()
    )


def test_exporting_ticked_contacts_downloads_only_visible_ones(two_teams):
    mine, theirs = _ann_and_sid(two_teams)
    response = _client(two_teams.ann).post(
        "/contacts/bulk/", {"action": "export", "ids": [c.pk for c in (*mine, theirs)]}
    )
    assert response["Content-Type"].startswith("text/csv")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0].startswith("id,first_name")
    assert sorted(int(line.split(",")[0]) for line in lines[1:]) == sorted(c.pk for c in mine)


def test_nothing_selected_is_said_and_changes_nothing(two_teams):
    _, theirs = _ann_and_sid(two_teams)
    response = _client(two_teams.ann).post(
        "/contacts/bulk/",
        {"action": "opt_out", "ids": [theirs.pk], "confirmed": "yes"},
        follow=True,
    )
    assert "Tick at least one contact" in response.content.decode()
    theirs.refresh_from_db()
    assert theirs.opted_out_at is None


def test_the_bulk_menus_offer_only_assignable_owners_and_open_visible_campaigns(two_teams):
    finished = factories.campaign(senders=[], name="Ann Done")
    Campaign.objects.filter(pk=finished.pk).update(owner=two_teams.ann, status="finished")
    ann_page = _client(two_teams.ann).get("/contacts/").content.decode()
    assert options(ann_page, "bulk_owner") == {"—", "ann"}
    assert options(ann_page, "bulk_campaign") == {"—", "Ann Outreach (draft)"}
    nora_page = _client(two_teams.nora).get("/contacts/").content.decode()
    assert options(nora_page, "bulk_owner") == {"—", "nora", "ann", "art"}
