"""In Chromium: a manager logs into the app, invites a rep from the user menu; the rep opens
the emailed link, chooses a password, lands in the app, logs out and in again. Nobody in
this story has staff status."""

import re

import pytest
from django.contrib.auth.models import Group, User
from django.core import mail
from playwright.sync_api import expect

from core.teams import Team

pytestmark = pytest.mark.django_db(transaction=True)


def _login(page, username: str, password: str) -> None:
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("#login-form button[type=submit]")


def _menu(page, item: str) -> None:
    page.click("#user-menu .dropdown-toggle")
    page.click(f"#user-menu .dropdown-item:text-is('{item}')")


def test_invited_rep_sets_a_password_and_logs_in_through_the_app(page, chromium):
    mia = User.objects.create_user("mia", "mia@example.com", "mia-pass-123")
    mia.groups.add(Group.objects.get_or_create(name="manager")[0])
    # The roles come from a data migration, which an earlier transactional test's flush
    # removes: the rep's group must exist for the invitation to be accepted into it.
    Group.objects.get_or_create(name="rep")
    north = Team.objects.create(name="North")
    north.managers.add(mia)

    page.goto("/inbox/")
    assert "/accounts/login/" in page.url
    _login(page, "mia", "mia-pass-123")
    page.wait_for_url("**/inbox/")
    expect(page.locator("a.nav-link:text-is('Admin')")).to_have_count(0)
    _menu(page, "Invite people")
    page.fill("#id_email", "nina@example.com")
    page.select_option("#id_team", label="North")
    page.click("#invite-form button[type=submit]")
    expect(page.locator("#pending-invitations")).to_contain_text("nina@example.com")

    [email] = mail.outbox
    [path] = re.findall(r"https?://[^/\s]+(/accounts/invite/\S+/)", email.body)
    invitee = chromium.new_context(base_url=page.base_url).new_page()
    invitee.set_default_timeout(15_000)
    invitee.goto(path)
    expect(invitee.locator("h1")).to_have_text("Join as rep in North")
    invitee.fill("#id_username", "nina")
    invitee.fill("#id_password1", "nina-secret-pass-7")
    invitee.fill("#id_password2", "nina-secret-pass-7")
    invitee.click("#accept-form button[type=submit]")
    invitee.wait_for_url(f"{page.base_url}/")
    expect(invitee.locator("#user-menu .dropdown-toggle")).to_have_text("nina")

    _menu(invitee, "Log out")
    invitee.wait_for_url("**/accounts/login/")
    invitee.goto(path)
    expect(invitee.locator("#invitation-problem")).to_contain_text("already been used")
    invitee.goto("/accounts/login/")
    _login(invitee, "nina", "nina-secret-pass-7")
    invitee.wait_for_url(f"{page.base_url}/")
    assert User.objects.get(username="nina").teams.get() == north
    invitee.context.close()
