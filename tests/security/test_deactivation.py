"""Deactivating a user (the User admin's form or the service) ends their sessions and
deletes their API tokens at once; removing staff status only closes the admin."""

import pytest
from django.contrib.auth.models import Group, User
from django.contrib.sessions.models import Session
from django.test import Client
from rest_framework.test import APIClient

from contacts.accounts import user_deactivate
from core.api_tokens import ApiToken, api_token_create

pytestmark = pytest.mark.django_db


def _rep(name: str, *, staff: bool = True) -> User:
    user = User.objects.create_user(name, f"{name}@example.com", f"{name}-pass-123", is_staff=staff)
    user.groups.add(Group.objects.get(name="rep"))
    return user


def _logged_in(user: User) -> Client:
    browser = Client()
    response = browser.post(
        "/accounts/login/", {"username": user.username, "password": f"{user.username}-pass-123"}
    )
    assert response.status_code == 302
    return browser


def _api(key: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api


def _user_form(user: User, **changes) -> dict:
    data = {
        "username": user.username,
        "first_name": "",
        "last_name": "",
        "email": user.email,
        "is_active": "on",
        "is_staff": "on" if user.is_staff else "",
        "groups": [g.pk for g in user.groups.all()],
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not False}


def test_deactivated_user_loses_sessions_and_api_tokens(admin_client):
    rita, keep = _rep("rita"), _rep("kept")
    browsers = [_logged_in(rita), _logged_in(rita)]
    other = _logged_in(keep)
    _, key = api_token_create(user=rita, name="laptop")
    _, kept_key = api_token_create(user=keep, name="laptop")
    assert _api(key).get("/api/v1/contacts/").status_code == 200

    response = admin_client.post(
        f"/admin/auth/user/{rita.pk}/change/", _user_form(rita, is_active=False)
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert not User.objects.get(pk=rita.pk).is_active
    assert not ApiToken.objects.filter(user=rita).exists()
    assert _api(key).get("/api/v1/contacts/").status_code == 401
    for browser in browsers:
        assert browser.session.session_key is not None
        assert not Session.objects.filter(session_key=browser.session.session_key).exists()
        assert browser.get("/inbox/").status_code == 302
    # Nobody else is logged out.
    assert other.get("/inbox/").status_code == 200
    assert _api(kept_key).get("/api/v1/contacts/").status_code == 200


def test_the_deactivate_service_revokes_as_the_admin_does():
    rita = _rep("rita")
    browser = _logged_in(rita)
    _, key = api_token_create(user=rita, name="cron")

    user_deactivate(user=rita)

    assert browser.get("/inbox/").status_code == 302
    assert _api(key).get("/api/v1/contacts/").status_code == 401
    assert ApiToken.objects.filter(user=rita).count() == 0


def test_removing_staff_status_closes_only_the_admin(admin_client):
    rita = _rep("rita", staff=True)
    browser = _logged_in(rita)
    _, key = api_token_create(user=rita, name="cron")
    assert browser.get("/admin/").status_code == 200

    response = admin_client.post(
        f"/admin/auth/user/{rita.pk}/change/", _user_form(rita, is_staff=False)
    )

    assert response.status_code == 302
    assert browser.get("/admin/").status_code == 302
    assert browser.get("/inbox/").status_code == 200
    assert _api(key).get("/api/v1/contacts/").status_code == 200
