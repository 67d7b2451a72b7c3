"""API tokens are stored as digests: the key works, the database cannot give it away."""

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from core.api_tokens import ApiToken, api_token_create
from tests.api.conftest import make_user

pytestmark = pytest.mark.django_db


def test_a_token_works_but_the_database_holds_only_its_digest():
    user = make_user("carol", "manager")
    token, key = api_token_create(user=user, name="CRM sync")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    assert client.get("/api/v1/contacts/").status_code == 200
    row = ApiToken.objects.values().get(id=token.id)
    assert key not in str(row)
    assert key.startswith(row["prefix"]) and len(row["prefix"]) < len(key) // 3
    assert row["last_used_at"] is not None


def test_a_deleted_token_or_a_guessed_one_gets_401():
    user = make_user("carol", "manager")
    token, key = api_token_create(user=user, name="old laptop")
    token.delete()
    for guess in (key, "dmk_" + "A" * 43):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {guess}")
        assert client.get("/api/v1/contacts/").status_code == 401


def test_the_token_endpoint_hands_out_a_new_key_each_time():
    make_user("carol", "manager")
    client = APIClient()
    first = client.post("/api/v1/token/", {"username": "carol", "password": "carol-pass-123"})
    second = client.post("/api/v1/token/", {"username": "carol", "password": "carol-pass-123"})
    wrong = client.post("/api/v1/token/", {"username": "carol", "password": "nope"})

    assert (first.status_code, second.status_code, wrong.status_code) == (200, 200, 400)
    assert first.json()["token"] != second.json()["token"]
    assert ApiToken.objects.filter(user__username="carol").count() == 2
    client.credentials(HTTP_AUTHORIZATION=f"Token {second.json()['token']}")
    assert client.get("/api/v1/contacts/").status_code == 200


def test_the_admin_shows_a_new_key_once(client):
    admin = User.objects.create_superuser("boss", "boss@example.com", "pw-123456")
    carol = make_user("carol", "manager")
    client.force_login(admin)
    response = client.post(
        "/admin/core/apitoken/add/", {"user": carol.id, "name": "Zapier"}, follow=True
    )
    shown = [str(m) for m in response.context["messages"]]
    [token] = ApiToken.objects.filter(user=carol)
    [note] = [m for m in shown if "cannot be shown again" in m]
    key = note.split(": ", 1)[1].split(" ")[0]
    assert key.startswith(token.prefix)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/contacts/").status_code == 200
    page = client.get(f"/admin/core/apitoken/{token.id}/change/").content.decode()
    assert key not in page
