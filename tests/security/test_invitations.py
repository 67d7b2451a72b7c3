"""Invitations: an admin or a manager invites by email with a role and a team; the emailed
link, used once before it expires, lets the invitee choose a username and password.

A manager invites reps only, into the teams they manage. The world (admin boss, manager mia
with rep alice in team North, bob in no team) comes from tests/api/conftest.py.
"""

import re
from datetime import timedelta

from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from django.utils import timezone

from contacts.invitations import Invitation
from core.teams import Team
from tests import factories
from tests.api.conftest import world  # noqa: F401  (the fixture)

PASSWORD = "nina-secret-pass-7"


def _invite(client: Client, email: str, role: str, team: Team | None):
    return client.post(
        "/accounts/invite/", {"email": email, "role": role, "team": team.pk if team else ""}
    )


def _link(email) -> str:
    [path] = re.findall(r"https?://[^/\s]+(/accounts/invite/\S+/)", email.body)
    return path


def _accept(client: Client, path: str, username: str = "nina"):
    return client.post(path, {"username": username, "password1": PASSWORD, "password2": PASSWORD})


def _ids(client: Client) -> set[int]:
    return {row["id"] for row in client.get("/api/v1/contacts/").json()["results"]}


def test_manager_invites_a_rep_who_sets_a_password_and_sees_only_their_rows(world):  # noqa: F811
    north = Team.objects.get(name="North")
    manager = Client()
    manager.force_login(world.manager)

    response = _invite(manager, "nina@example.com", "rep", north)

    assert response.status_code == 302
    [email] = mail.outbox
    assert email.to == ["nina@example.com"] and "North" in email.body
    assert "nina@example.com" in manager.get("/accounts/invite/").content.decode()
    link = _link(email)
    form = Client().get(link)
    assert form.status_code == 200 and "Join as rep in North" in form.content.decode()
    accepted = _accept(Client(), link)
    assert accepted.status_code == 302
    nina = User.objects.get(username="nina")
    assert nina.is_active and nina.email == "nina@example.com"
    assert list(nina.groups.values_list("name", flat=True)) == ["rep"]
    assert list(nina.teams.all()) == [north]
    ninas = factories.contact(7, owner=nina)

    browser = Client()
    login = browser.post("/accounts/login/", {"username": "nina", "password": PASSWORD})
    assert login.status_code == 302
    assert _ids(browser) == {ninas.pk}
    assert ninas.pk in _ids(manager)  # her manager sees her rows now
    # Used once: the same link is refused with a clear page.
    again = Client().get(link)
    assert again.status_code == 410 and "already been used" in again.content.decode()


def test_manager_cannot_invite_into_another_team_or_as_admin(world):  # noqa: F811
    north = Team.objects.get(name="North")
    south = Team.objects.create(name="South")
    manager = Client()
    manager.force_login(world.manager)

    for role, team in (("rep", south), ("admin", north), ("manager", north), ("rep", None)):
        response = _invite(manager, "eve@example.com", role, team)
        assert response.status_code == 200, (role, team)
        assert response.context["form"].errors, (role, team)
    assert Invitation.objects.count() == 0 and mail.outbox == []
    page = manager.get("/accounts/invite/").content.decode()
    assert "South" not in page and 'value="admin"' not in page


def test_a_rep_cannot_invite_anyone(world):  # noqa: F811
    rep = Client()
    rep.force_login(world.alice)
    assert rep.get("/accounts/invite/").status_code == 403
    assert _invite(rep, "eve@example.com", "rep", None).status_code == 403
    assert Invitation.objects.count() == 0


def test_admin_invites_a_manager_of_any_team(world):  # noqa: F811
    south = Team.objects.create(name="South")
    admin = Client()
    admin.force_login(world.admin)
    assert _invite(admin, "sam@example.com", "manager", south).status_code == 302
    assert _accept(Client(), _link(mail.outbox[0]), "sam").status_code == 302
    sam = User.objects.get(username="sam")
    assert list(sam.managed_teams.all()) == [south]
    assert list(sam.groups.values_list("name", flat=True)) == ["manager"]


def test_expired_withdrawn_or_forged_links_are_refused_with_a_clear_page(world):  # noqa: F811
    north = Team.objects.get(name="North")
    manager = Client()
    manager.force_login(world.manager)
    _invite(manager, "old@example.com", "rep", north)
    _invite(manager, "gone@example.com", "rep", north)
    old, gone = (_link(e) for e in mail.outbox)
    Invitation.objects.filter(email="old@example.com").update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    withdrawn = Invitation.objects.get(email="gone@example.com")
    assert manager.post(f"/accounts/invite/{withdrawn.pk}/revoke/").status_code == 302

    for link, reason in (
        (old, "has expired"),
        (gone, "was withdrawn"),
        (old[:-3] + "xx/", "not valid"),
    ):
        for response in (Client().get(link), _accept(Client(), link, "mallory")):
            assert response.status_code == 410, link
            assert reason in response.content.decode(), link
    assert not User.objects.filter(username="mallory").exists()


def test_a_manager_cannot_withdraw_another_teams_invitation(world):  # noqa: F811
    south = Team.objects.create(name="South")
    admin = Client()
    admin.force_login(world.admin)
    _invite(admin, "sol@example.com", "rep", south)
    invitation = Invitation.objects.get()
    manager = Client()
    manager.force_login(world.manager)
    assert "sol@example.com" not in manager.get("/accounts/invite/").content.decode()
    assert manager.post(f"/accounts/invite/{invitation.pk}/revoke/").status_code == 404
    assert Invitation.objects.get().revoked_at is None


def test_a_username_taken_while_accepting_is_a_form_error_and_the_link_still_works(world):  # noqa: F811
    """Two invitations accepted at once with the same name: the form saw it free, the
    database did not. The second person is asked for another name, not shown a 500."""
    from contacts.invitations import UsernameTaken, invitation_accept, invitation_from_token

    north = Team.objects.get(name="North")
    manager = Client()
    manager.force_login(world.manager)
    _invite(manager, "nina@example.com", "rep", north)
    path = _link(mail.outbox[-1])
    invitation = invitation_from_token(path.rstrip("/").rsplit("/", 1)[-1])
    assert invitation is not None
    User.objects.create_user("nina")  # taken after the form checked it
    try:
        invitation_accept(invitation=invitation, username="nina", password=PASSWORD)
    except UsernameTaken as exc:
        assert "taken" in exc.messages[0]
    else:
        raise AssertionError("accepting with a taken name must be refused")
    # Nothing was used up: the same link accepts another name.
    response = _accept(Client(), path, username="nina2")
    assert response.status_code == 302
    assert User.objects.get(username="nina2").email == "nina@example.com"
