"""Possible duplicates: suggested on the contact page and listed in pairs, within the team."""

from django.test import Client

from analytics.contact_duplicates import contact_duplicates
from contacts.models import Identity
from outreach.models import Conversation, Message
from tests import factories
from tests.security.teams import PASSWORD


def _client(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def _person(owner, n: int, **identities):
    contact = factories.contact(n, channels=(), owner=owner, first_name=f"Person{n}")
    for channel, value in identities.items():
        Identity.objects.create(contact=contact, channel=channel, value=value)
    return contact


def test_duplicates_match_email_case_phone_digits_and_handles_across_channels(two_teams):
    ann, sid = two_teams.ann, two_teams.sid
    dana = _person(ann, 40, email="dana@example.com", phone="+491715550100", instagram="dana.r")
    by_email = _person(ann, 41, email="DANA@Example.com")
    by_phone = _person(ann, 42, whatsapp="0049 171 555-0100")
    by_handle = _person(ann, 43, x="@Dana.R")
    _person(ann, 44, email="other@example.com", telegram="dana", phone="+4930123")
    _person(sid, 45, email="Dana@example.com")  # another team's: never suggested to ann

    found = {d.contact.pk: d.reasons for d in contact_duplicates(ann, dana)}
    assert found == {
        by_email.pk: ["same email dana@example.com"],
        by_phone.pk: ["same phone number 491715550100"],
        by_handle.pk: ["same handle dana.r"],
    }
    page = _client(ann).get(f"/contacts/{dana.pk}/").content.decode()
    assert "Possible duplicates" in page
    for twin in (by_email, by_phone, by_handle):
        assert f"/contacts/{dana.pk}/merge/{twin.pk}/" in page
    assert "Person44" not in page and "Person45" not in page


def test_the_duplicates_page_lists_pairs_of_the_team_a_page_at_a_time(
    two_teams, django_assert_max_num_queries
):
    ann, art, sid = two_teams.ann, two_teams.art, two_teams.sid
    for n in range(30):
        _person(ann if n % 2 else art, 100 + 2 * n, instagram=f"twin{n:02}")
        _person(ann, 101 + 2 * n, tiktok=f"@Twin{n:02}")
    _person(sid, 500, email="lead1@EXAMPLE.com")  # shares ann's fixture email, other team

    nora = _client(two_teams.nora)  # manages ann and art
    # 23 today, most of them the menus' role look-ups; the pairs are one grouped query, the
    # page's keys' contact ids one more (no array aggregate on SQLite) and their contacts two
    # more, so a query per pair (25 here) would blow it.
    with django_assert_max_num_queries(24):
        first = nora.get("/contacts/duplicates/").content.decode()
    assert first.count('class="d-flex flex-wrap gap-2 align-items-baseline duplicate-pair"') == 25
    assert "same handle twin00" in first and "same handle twin24" in first
    second = nora.get("/contacts/duplicates/", {"page": 2}).content.decode()
    assert "same handle twin29" in second and "twin24" not in second
    # ann sees only pairs of her own contacts; sid none of ann's.
    mine = _client(ann).get("/contacts/duplicates/", {"page": 2}).content.decode()
    assert "twin29" in mine and "twin28" not in mine
    theirs = _client(sid).get("/contacts/duplicates/").content.decode()
    assert "twin" not in theirs and "lead1@example.com" not in theirs


def test_the_timeline_leaves_out_what_another_teams_sender_wrote(two_teams):
    contact = two_teams.rows["ann"].contact
    sid_box = two_teams.rows["sid"].sender
    conv = Conversation.objects.create(identity=contact.identities.get(), sender=sid_box)
    Message.objects.create(
        conversation=conv,
        sender=sid_box,
        channel="email",
        direction="out",
        status="sent",
        body="South team pitch",
    )
    ann_box = two_teams.rows["ann"].sender
    Message.objects.create(
        conversation=two_teams.rows["ann"].conversation,
        sender=ann_box,
        channel="email",
        direction="out",
        status="sent",
        body="North team hello",
    )
    ann_page = _client(two_teams.ann).get(f"/contacts/{contact.pk}/").content.decode()
    assert "North team hello" in ann_page and "South team pitch" not in ann_page
    root_page = _client(two_teams.root).get(f"/contacts/{contact.pk}/").content.decode()
    assert "North team hello" in root_page and "South team pitch" in root_page
