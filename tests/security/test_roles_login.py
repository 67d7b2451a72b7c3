"""Every active user logs into the app; staff status only opens the admin. Logout, password
change and password reset by email work from the app's own pages."""

import re

import pytest
from django.contrib.auth.models import Group, User
from django.core import mail
from django.test import Client

pytestmark = pytest.mark.django_db


def _rep(name: str = "rita", *, staff: bool = False) -> User:
    user = User.objects.create_user(name, f"{name}@example.com", f"{name}-pass-123", is_staff=staff)
    user.groups.add(Group.objects.get(name="rep"))
    return user


def _login(client: Client, username: str, password: str):
    return client.post("/accounts/login/", {"username": username, "password": password})


def test_rep_without_staff_status_logs_into_the_app(client):
    _rep()
    response = _login(client, "rita", "rita-pass-123")
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/inbox/").status_code == 200
    assert client.get("/").status_code == 200
    assert client.get("/templates/").status_code == 200


def test_rep_without_staff_status_cannot_open_the_admin(client):
    _rep()
    _login(client, "rita", "rita-pass-123")
    assert client.get("/inbox/").status_code == 200
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    page = client.get("/inbox/").content.decode()
    assert 'href="/admin/"' not in page  # the navbar offers no link that cannot work


def test_app_pages_send_anonymous_visitors_to_the_app_login(client):
    for url in ("/", "/inbox/", "/templates/", "/contacts/imports/", "/accounts/tokens/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next="), url


def test_wrong_password_shows_the_form_again_and_a_locked_login_says_so(client, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    _rep()
    for _ in range(2):
        response = _login(client, "rita", "wrong")
        assert response.status_code == 200
        assert "correct username and password" in response.content.decode()
    response = _login(client, "rita", "rita-pass-123")  # locked now, even the right password
    assert response.status_code == 200
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_inactive_user_cannot_log_in(client):
    user = _rep()
    user.is_active = False
    user.save()
    response = _login(client, "rita", "rita-pass-123")
    assert response.status_code == 200 and "_auth_user_id" not in client.session


def test_logout_is_a_post_from_the_user_menu(client):
    _rep()
    _login(client, "rita", "rita-pass-123")
    page = client.get("/inbox/").content.decode()
    assert 'action="/accounts/logout/"' in page
    assert client.get("/accounts/logout/").status_code == 405
    response = client.post("/accounts/logout/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert client.get("/inbox/").status_code == 302


def test_password_change_keeps_the_user_logged_in(client):
    _rep()
    _login(client, "rita", "rita-pass-123")
    response = client.post(
        "/accounts/password/change/",
        {
            "old_password": "rita-pass-123",
            "new_password1": "a-brand-new-secret-9",
            "new_password2": "a-brand-new-secret-9",
        },
    )
    assert response.status_code == 302
    assert client.get("/inbox/").status_code == 200
    assert User.objects.get(username="rita").check_password("a-brand-new-secret-9")


def test_password_reset_email_sets_a_new_password(client, settings):
    settings.PUBLIC_URL = "https://outreach.example.com"
    _rep()
    response = client.post("/accounts/password/reset/", {"email": "rita@example.com"})
    assert response.status_code == 302
    [email] = mail.outbox
    assert email.to == ["rita@example.com"]
    [link] = re.findall(r"https://outreach\.example\.com(/accounts/reset/\S+/)", email.body)
    form = client.get(link, follow=True)
    assert form.status_code == 200
    set_url = form.redirect_chain[-1][0]
    response = client.post(
        set_url, {"new_password1": "reset-secret-42x", "new_password2": "reset-secret-42x"}
    )
    assert response.status_code == 302
    assert _login(Client(), "rita", "reset-secret-42x").status_code == 302
    # The link is single use: the token no longer matches the changed password.
    again = client.get(link, follow=True)
    assert "no longer valid" in again.content.decode()


def test_password_reset_for_an_unknown_address_sends_nothing_and_says_the_same(client):
    response = client.post("/accounts/password/reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302 and mail.outbox == []


def test_admin_login_tells_a_rep_without_staff_status_where_to_log_in(client):
    _rep()
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "rita", "password": "rita-pass-123"}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "no access to the admin site" in page and "/accounts/login/" in page
    assert "_auth_user_id" not in client.session


def test_a_locked_admin_login_says_so(client, settings):
    settings.LOGIN_FAILURE_LIMIT = 1
    User.objects.create_superuser("boss", "boss@example.com", "boss-pass-123")
    client.post("/admin/login/", {"username": "boss", "password": "wrong"})
    response = client.post("/admin/login/", {"username": "boss", "password": "boss-pass-123"})
    assert response.status_code == 200 and "Too many failed logins" in response.content.decode()
