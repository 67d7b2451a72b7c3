"""What an integration sees through the API: upsert, idempotent creates, throttling,
replies, enrollments with their "why not sent", campaign actions and the schema."""

import re
import uuid

import pytest
from django.core.management import call_command

from contacts.models import Contact, Identity
from outreach.models import Message

pytestmark = pytest.mark.django_db


def test_bulk_upsert_creates_then_updates_by_identity(world, api):
    client = api(world.alice)
    rows = {
        "contacts": [
            {"first_name": "Ann", "identities": [{"channel": "email", "value": "ANN@Example.com"}]}
        ]
    }
    first = client.post("/api/v1/contacts/bulk-upsert/", rows, format="json").json()
    assert len(first["created"]) == 1
    rows["contacts"][0]["company"] = "Acme"
    second = client.post("/api/v1/contacts/bulk-upsert/", rows, format="json").json()
    assert second["updated"] == first["created"]
    contact = Contact.objects.get(id=first["created"][0])
    assert (contact.company, contact.owner) == ("Acme", world.alice)
    assert contact.identities.get().value == "ann@example.com"


def test_bulk_upsert_never_updates_another_reps_contact(world, api):
    bobs_email = world.bobs.contact.identities.get().value
    rows = {
        "contacts": [
            {"first_name": "Stolen", "identities": [{"channel": "email", "value": bobs_email}]}
        ]
    }
    result = api(world.alice).post("/api/v1/contacts/bulk-upsert/", rows, format="json").json()
    assert result["errors"][0]["index"] == 0
    world.bobs.contact.refresh_from_db()
    assert world.bobs.contact.first_name == "BobLead"


def test_bad_identity_is_a_400_naming_the_field(world, api):
    body = {"first_name": "X", "identities": [{"channel": "email", "value": "not-an-email"}]}
    response = api(world.alice).post("/api/v1/contacts/", body, format="json")
    assert response.status_code == 400
    assert "identities" in response.json()


def test_retried_post_with_the_same_idempotency_key_creates_one_contact(world, api):
    client = api(world.alice)
    key = str(uuid.uuid4())
    body = {"first_name": "Once", "identities": [{"channel": "email", "value": "once@example.com"}]}
    first = client.post("/api/v1/contacts/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    again = client.post("/api/v1/contacts/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Contact.objects.filter(first_name="Once").count() == 1


def test_same_idempotency_key_for_a_different_request_is_a_409(world, api):
    client = api(world.alice)
    key = str(uuid.uuid4())
    client.post("/api/v1/contacts/", {"first_name": "A"}, format="json", HTTP_IDEMPOTENCY_KEY=key)
    other = client.post(
        "/api/v1/contacts/", {"first_name": "B"}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    assert other.status_code == 409
    assert not Contact.objects.filter(first_name="B").exists()


def test_idempotency_keys_are_per_user(world, api):
    key = str(uuid.uuid4())
    api(world.alice).post(
        "/api/v1/contacts/", {"first_name": "A1"}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    response = api(world.bob).post(
        "/api/v1/contacts/", {"first_name": "A1"}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    assert response.status_code == 201
    assert Contact.objects.filter(first_name="A1").count() == 2


def test_too_many_requests_from_one_token_get_429(world, api, settings):
    settings.API_RATE_LIMIT = "3/min"
    client = api(world.alice)
    codes = [client.get("/api/v1/contacts/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    # Another token has its own budget.
    assert api(world.bob).get("/api/v1/contacts/").status_code == 200


def test_reply_queues_an_outbound_message_for_the_engine(world, api):
    conversation = world.alices.conversation
    url = f"/api/v1/conversations/{conversation.id}/reply/"
    response = api(world.alice).post(url, {"body": "Thanks, let's talk"}, format="json")
    assert response.status_code == 201
    message = Message.objects.get(id=response.json()["id"])
    assert (message.direction, message.status, message.human_written) == ("out", "queued", True)
    assert message.conversation == conversation


def test_enrol_shows_state_and_why_not_sent_then_unenrol(world, api):
    client = api(world.alice)
    campaign = world.alices.campaign
    body = {"campaign": campaign.id, "contacts": [world.alices.contact.id, world.bobs.contact.id]}
    result = client.post("/api/v1/enrollments/", body, format="json").json()
    assert result == {"enrolled": 1, "not_found": [world.bobs.contact.id]}
    rows = client.get(f"/api/v1/enrollments/?campaign={campaign.id}").json()["results"]
    assert rows[0]["state"] == "active" and "why_not_sent" in rows[0]
    assert client.delete(f"/api/v1/enrollments/{rows[0]['id']}/").status_code == 204
    after = client.get(f"/api/v1/enrollments/{rows[0]['id']}/").json()
    assert after["state"] == "stopped"
    assert after["why_not_sent"].startswith("unenrolled")


def test_campaign_create_launch_pause_and_stats(world, api):
    client = api(world.alice)
    created = client.post(
        "/api/v1/campaigns/",
        {
            "name": "API run",
            "sequence": world.alices.campaign.sequence_id,
            "senders": [world.sender.id],
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    cid = created.json()["id"]
    enrolled = client.post(
        "/api/v1/enrollments/",
        {"campaign": cid, "contacts": [world.alices.contact.id]},
        format="json",
    )
    assert enrolled.status_code == 201, enrolled.content
    launched = client.post(
        f"/api/v1/campaigns/{cid}/launch/", {"confirm_warnings": True}, format="json"
    )
    assert launched.status_code == 200, launched.content
    assert launched.json()["status"] == "running"
    assert client.post(f"/api/v1/campaigns/{cid}/pause/").json()["status"] == "paused"
    stats = client.get(f"/api/v1/campaigns/{cid}/stats/").json()
    assert stats["enrolled"] == 1


def test_launch_problems_are_a_400_not_a_500(world, api):
    client = api(world.alice)
    campaign = world.alices.campaign
    campaign.senders.clear()
    response = client.post(f"/api/v1/campaigns/{campaign.id}/launch/", {}, format="json")
    assert response.status_code == 400
    assert response.json()["problems"]


def test_sender_credentials_are_masked_in_the_api(world, api):
    world.sender.credentials = "tok-SECRET-1234567890"
    world.sender.save()
    body = api(world.admin).get(f"/api/v1/senders/{world.sender.id}/").content.decode()
    assert "SECRET" not in body
    assert "7890" in body


def test_openapi_schema_generates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    for path in (
        "/api/v1/contacts/bulk-upsert/",
        "/api/v1/conversations/{id}/reply/",
        "/api/v1/campaigns/{id}/stats/",
    ):
        assert path in text


def test_the_schema_declares_the_idempotency_key_header_where_it_is_honoured(world, api):
    schema = api(world.admin).get("/api/v1/schema/?format=json").json()

    def header(path: str) -> dict | None:
        params = schema["paths"][path]["post"].get("parameters", [])
        found = [p for p in params if (p["in"], p["name"]) == ("header", "Idempotency-Key")]
        return found[0] if found else None

    for path in (
        "/api/v1/contacts/",
        "/api/v1/contacts/bulk-upsert/",
        "/api/v1/imports/",
        "/api/v1/conversations/{id}/reply/",
        "/api/v1/campaigns/",
        "/api/v1/enrollments/",
        "/api/v1/deals/",
    ):
        param = header(path)
        assert param is not None, path
        assert param.get("required", False) is False
        assert "retry" in param["description"]
    assert header("/api/v1/campaigns/{id}/launch/") is None  # not idempotent


def test_docs_page_loads_swagger_ui_from_our_own_static_files_not_a_cdn(client):
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    # Every script and stylesheet is ours: the page works without internet access.
    urls = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any("swagger-ui" in u for u in urls), urls
    assert [u for u in urls if "://" in u or u.startswith("//")] == []
    assert "cdn.jsdelivr" not in page and "@latest" not in page


def test_identities_are_unique_across_contacts(world, api):
    value = world.bobs.contact.identities.get().value
    body = {"first_name": "Dup", "identities": [{"channel": "email", "value": value}]}
    response = api(world.alice).post("/api/v1/contacts/", body, format="json")
    assert response.status_code == 400
    assert Identity.objects.filter(value=value).count() == 1
