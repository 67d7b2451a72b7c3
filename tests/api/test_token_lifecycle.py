"""API tokens have a name, a last-used time and an expiry; their owner lists, creates and
revokes them on /accounts/tokens/."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from core.api_tokens import ApiToken, api_token_create
from tests.api.conftest import make_user

pytestmark = pytest.mark.django_db


def _api(key: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api


def test_expired_token_is_refused():
    carol = make_user("carol", "manager")
    token, key = api_token_create(user=carol, name="short lived", days=1)
    assert _api(key).get("/api/v1/contacts/").status_code == 200

    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = _api(key).get("/api/v1/contacts/")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"].lower()


def test_the_token_endpoint_gives_named_tokens_that_expire_by_default(settings):
    settings.API_TOKEN_DEFAULT_DAYS = 30
    make_user("carol", "manager")
    response = APIClient().post(
        "/api/v1/token/", {"username": "carol", "password": "carol-pass-123", "name": "CRM sync"}
    )
    assert response.status_code == 200
    token = ApiToken.objects.get(user__username="carol")
    assert token.name == "CRM sync" and response.json()["name"] == "CRM sync"
    assert token.expires_at is not None
    assert abs(token.expires_at - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)


def test_owner_lists_and_revokes_their_tokens(client):
    carol = make_user("carol", "rep")
    dave = make_user("dave", "rep")
    _, old_key = api_token_create(user=carol, name="old laptop")
    daves, _ = api_token_create(user=dave, name="dave's cron")
    _api(old_key).get("/api/v1/contacts/")
    client.force_login(carol)

    created = client.post("/accounts/tokens/", {"name": "Zapier", "days": "7"})
    assert created.status_code == 200
    [key] = re.findall(r"dmk_[\w-]{40,}", created.content.decode())
    assert _api(key).get("/api/v1/contacts/").status_code == 200
    listing = client.get("/accounts/tokens/").content.decode()
    assert "Zapier" in listing and "old laptop" in listing and "dave" not in listing
    assert key not in listing  # shown once only
    zapier = ApiToken.objects.get(user=carol, name="Zapier")
    assert zapier.expires_at is not None and zapier.prefix in listing

    confirm = client.get(f"/accounts/tokens/{zapier.pk}/revoke/")
    assert confirm.status_code == 200 and "Revoke" in confirm.content.decode()
    assert _api(key).get("/api/v1/contacts/").status_code == 200  # nothing revoked by a GET
    assert client.post(f"/accounts/tokens/{zapier.pk}/revoke/").status_code == 302
    assert _api(key).get("/api/v1/contacts/").status_code == 401
    assert _api(old_key).get("/api/v1/contacts/").status_code == 200

    # Someone else's token is "not found", and stays.
    assert client.post(f"/accounts/tokens/{daves.pk}/revoke/").status_code == 404
    assert ApiToken.objects.filter(pk=daves.pk).exists()


def test_a_token_without_expiry_and_a_bad_expiry_are_handled(client):
    carol = make_user("carol", "rep")
    client.force_login(carol)
    assert client.post("/accounts/tokens/", {"name": "forever", "days": ""}).status_code == 200
    assert ApiToken.objects.get(name="forever").expires_at is None
    bad = client.post("/accounts/tokens/", {"name": "bad", "days": "-3"})
    assert bad.status_code == 200 and not ApiToken.objects.filter(name="bad").exists()
