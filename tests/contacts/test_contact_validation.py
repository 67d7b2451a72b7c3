"""Custom fields are a flat object and a country is a country, wherever a contact is written:
the API, the admin, the database; and a row saved before that never breaks a page."""

import importlib

import pytest
from django.db import IntegrityError

from campaigns.rendering import context_from_values
from contacts.models import Contact
from tests.api.conftest import client_for, make_user

pytestmark = pytest.mark.django_db

IDENTITIES = [{"channel": "email", "value": "x@example.com"}]


@pytest.fixture
def api(db):
    return client_for(make_user("alice", "rep"))


@pytest.mark.parametrize(
    "custom_fields", [["a", "b"], "text", 3, {"deal": {"size": 5}}, {"tags": ["a"]}]
)
def test_api_refuses_custom_fields_that_are_not_a_flat_object(api, custom_fields):
    body = {"custom_fields": custom_fields, "identities": IDENTITIES}
    response = api.post("/api/v1/contacts/", body, format="json")
    assert response.status_code == 400
    assert "custom_fields" in response.json()
    assert not Contact.objects.exists()


def test_api_takes_custom_fields_of_plain_values(api):
    fields = {"industry": "SaaS", "seats": 12, "paying": True, "score": 0.5, "notes": None}
    body = {"custom_fields": fields, "identities": IDENTITIES}
    response = api.post("/api/v1/contacts/", body, format="json")
    assert response.status_code == 201
    assert Contact.objects.get().custom_fields == fields


@pytest.mark.parametrize("country", ["XX", "de", "1A"])
def test_api_refuses_a_country_that_is_not_a_country(api, country):
    body = {"country": country, "identities": IDENTITIES}
    response = api.post("/api/v1/contacts/", body, format="json")
    assert response.status_code == 400
    assert "country" in response.json()


def test_bulk_upsert_refuses_a_country_that_is_not_a_country(api):
    rows = {"contacts": [{"country": "XX", "identities": IDENTITIES}]}
    response = api.post("/api/v1/contacts/bulk-upsert/", rows, format="json")
    assert response.status_code == 400
    assert not Contact.objects.exists()


def test_admin_shows_an_error_for_custom_fields_that_are_not_an_object(admin_client):
    response = admin_client.post(
        "/admin/contacts/contact/add/",
        {
            "first_name": "Ana",
            "custom_fields": '["a", "b"]',
            "country": "DE",
            "identities-TOTAL_FORMS": "0",
            "identities-INITIAL_FORMS": "0",
            "consent_records-TOTAL_FORMS": "0",
            "consent_records-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["custom_fields"] == [
        "Custom fields must be an object of names to values, not a list."
    ]
    assert not Contact.objects.exists()


def test_database_refuses_custom_fields_that_are_not_an_object():
    with pytest.raises(IntegrityError):
        Contact.objects.create(first_name="Ana", custom_fields=["a", "b"])


def test_preview_of_a_contact_with_custom_fields_saved_as_a_list_has_no_custom_values():
    context = context_from_values({"first_name": "Ana", "custom_fields": ["a", "b"]})
    assert context["first_name"] == "Ana"
    assert not [k for k in context if k.startswith("custom.")]


def test_migration_keeps_a_list_of_custom_fields_as_text_in_an_object():
    fix = importlib.import_module("contacts.migrations.0006_fix_custom_fields_not_object")
    assert fix.custom_fields_fixed(["a", "b"]) == {"invalid_custom_fields": '["a", "b"]'}
    assert fix.custom_fields_fixed([]) == {}


def test_migration_makes_old_api_rows_editable_country_code_and_flat_custom_fields():
    from importlib import import_module

    from django.apps import apps

    migration = import_module("contacts.migrations.0006_fix_custom_fields_not_object")
    old_lower = Contact.objects.create(first_name="Lower")
    old_bad = Contact.objects.create(first_name="Bad")
    # Saved the way the API could before the validators: update() skips them.
    Contact.objects.filter(pk=old_lower.pk).update(
        country="de", custom_fields={"plan": {"seats": 3}, "tags": ["a"], "ok": 1}
    )
    Contact.objects.filter(pk=old_bad.pk).update(country="XX")
    migration.fix_custom_fields(apps, None)
    old_lower.refresh_from_db()
    old_bad.refresh_from_db()
    assert old_lower.country == "DE"
    assert old_lower.custom_fields == {"plan": '{"seats": 3}', "tags": '["a"]', "ok": 1}
    assert (old_bad.country, old_bad.custom_fields) == ("", {"invalid_country": "XX"})
    old_lower.full_clean()
    old_bad.full_clean()
