"""The contacts list finds a contact by any of its addresses and the contact page tells its
whole history across channels, both within the user's team."""

from django.test import Client

from tests.contacts.contact_world import reached_on_two_channels
from tests.security.teams import PASSWORD


def _client(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_searching_by_an_instagram_handle_finds_the_contact_with_its_identities(two_teams):
    contact = reached_on_two_channels(two_teams.ann)
    body = _client(two_teams.ann).get("/contacts/", {"q": "@dana_rivers"}).content.decode()
    assert f'data-contact="{contact.pk}"' in body
    assert "lead11@example.com" in body and "Instagram" in body and "Acme" in body
    assert "AnnLead" not in body  # ann's other contact has no such handle
    by_platform_id = _client(two_teams.ann).get("/contacts/", {"q": "IG1177"}).content.decode()
    assert f'data-contact="{contact.pk}"' in by_platform_id


def test_another_teams_contact_is_absent_from_the_list_and_its_page_is_not_found(two_teams):
    contact = reached_on_two_channels(two_teams.ann)
    sid = _client(two_teams.sid)
    assert f'data-contact="{contact.pk}"' not in sid.get("/contacts/").content.decode()
    searched = sid.get("/contacts/", {"q": "dana"}).content.decode()
    assert f'data-contact="{contact.pk}"' not in searched
    assert sid.get(f"/contacts/{contact.pk}/").status_code == 404
    # Her manager sees it.
    assert _client(two_teams.nora).get(f"/contacts/{contact.pk}/").status_code == 200


def test_the_contact_page_shows_one_timeline_across_channels_newest_first(
    two_teams, django_assert_max_num_queries
):
    contact = reached_on_two_channels(two_teams.ann)
    client = _client(two_teams.ann)
    # 22 today, a fixed number per kind of row (the possible duplicates and the senders
    # scoping the messages are one query each, plus a role look-up each): a query per
    # message or deal would pass it.
    with django_assert_max_num_queries(23):
        body = client.get(f"/contacts/{contact.pk}/").content.decode()
    order = [
        "Here it is",
        "outside the sending window",
        "Yes please, send the price list",
        "New → Won",
        "Hello Dana, about the spring fair",
        "Enrolled in Spring 11",
        "Created by import fair-leads.csv",
    ]
    positions = [body.index(text) for text in order]
    assert positions == sorted(positions)
    assert body.count("/inbox/") >= 3  # every message links to its conversation
    assert "dana_rivers_11" in body and "no consent recorded" in body
