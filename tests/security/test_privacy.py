"""GDPR export and erasure, and the retention of message bodies."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.apps import apps
from django.db import models
from django.utils import timezone

from campaigns.models import Enrollment
from campaigns.privacy import contact_erase, contact_export
from campaigns.stats import campaign_stats
from contacts.imports import contact_import_run, contact_import_start
from contacts.models import Contact, ContactImport, ContactImportError, Identity
from contacts.services import address_suppress, identity_grant_consent
from outreach.models import Conversation, InboundEvent, Message
from outreach.retention import message_bodies_expire
from tests import factories
from tests.contacts.conftest import upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def history():
    """A contact with consent, an enrollment, a sent message and a reply."""
    contact = factories.contact(
        7, first_name="Zelda", last_name="Quackenbush", company="Hyrule Ltd"
    )
    identity = contact.identities.get()
    identity_grant_consent(identity=identity, source="web form")
    sender = factories.sender()
    campaign = factories.campaign(senders=[sender])
    Enrollment.objects.create(campaign=campaign, contact=contact, state="replied")
    conversation = Conversation.objects.create(identity=identity, sender=sender)
    for direction, status, body in [
        ("out", "sent", "Hi Zelda"),
        ("in", "received", "Call me, Zelda"),
    ]:
        Message.objects.create(
            conversation=conversation,
            sender=sender,
            channel="email",
            direction=direction,
            status=status,
            body=body,
        )
    InboundEvent.objects.create(
        provider="email",
        provider_event_id="e1",
        payload={"from": identity.value, "text": "Call me"},
    )
    address_suppress(channel="email", value=identity.value, reason="complaint")
    ContactImportError.objects.create(
        contact_import=_import(), line=2, reason="bad", row=["Zelda", identity.value]
    )
    return contact, campaign


def _import():
    return ContactImport.objects.create(original_name="x.csv", path="/tmp/x.csv")


def test_export_holds_the_contact_identities_consent_and_messages(history):
    contact, _ = history
    data = contact_export(contact=contact)
    assert data["contact"]["first_name"] == "Zelda"
    assert data["identities"][0]["value"] == "lead7@example.com"
    assert data["consent_records"][0]["source"] == "web form"
    assert data["consent_records"][0]["recorded_at"]
    assert {m["body"] for m in data["messages"]} == {"Hi Zelda", "Call me, Zelda"}


def test_export_through_the_api_is_json(history, client, django_user_model):
    contact, _ = history
    client.force_login(django_user_model.objects.create_superuser("root", "r@e.com", "pw-123456"))
    response = client.get(f"/api/v1/privacy/contacts/{contact.id}/export/")
    assert response.status_code == 200
    assert response.json()["consent_records"][0]["kind"] == "granted"


def test_erase_keeps_campaign_stats(history):
    contact, campaign = history
    before = campaign_stats(campaign=campaign)
    contact_erase(contact=contact)
    assert campaign_stats(campaign=campaign) == before
    assert Message.objects.filter(conversation__identity__contact=contact).count() == 2


def test_erase_leaves_the_contacts_values_in_no_text_column(history):
    contact, _ = history
    values = ["Zelda", "Quackenbush", "Hyrule", "lead7@example.com"]
    contact_erase(contact=contact)
    leaks = []
    for model in apps.get_models():
        text_fields = [
            f.name
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField | models.JSONField)
            and not f.name.endswith("credentials")
        ]
        for row in model.objects.values(*text_fields) if text_fields else []:
            for name, value in row.items():
                for needle in values:
                    if needle.lower() in str(value).lower():
                        leaks.append(f"{model.__name__}.{name}")
    assert leaks == []


def test_retention_blanks_old_bodies_but_keeps_the_rows(history, settings):
    settings.MESSAGE_BODY_RETENTION_DAYS = 30
    Message.objects.update(created_at=timezone.now() - timedelta(days=31))
    InboundEvent.objects.update(processed_at=timezone.now())
    InboundEvent.objects.update(received_at=timezone.now() - timedelta(days=31))
    assert message_bodies_expire() == 2
    assert set(Message.objects.values_list("body", flat=True)) == {""}
    assert InboundEvent.objects.get().payload == {"expired": True}


def test_retention_keeps_recent_and_unsent_bodies(history, settings):
    settings.MESSAGE_BODY_RETENTION_DAYS = 30
    assert message_bodies_expire() == 0
    assert Message.objects.exclude(body="").count() == 2


def test_an_import_still_running_resumes_past_the_erased_persons_blanked_row(tmp_path, settings):
    settings.VAR_DIR = tmp_path
    person = factories.contact(9, first_name="Zelda")
    csv = tmp_path / "leads.csv"
    rows = ["a@example.com,Ann", "b@example.com,Ben", "lead9@example.com,Zelda", "c@example.com,Cy"]
    csv.write_text("email,first_name\n" + "\n".join(rows) + "\n")
    imp = upload(csv)
    contact_import_start(contact_import=imp, mapping=["email", "first_name"])
    # One batch of two rows, then the worker's time is up: the import is still running.
    assert contact_import_run(contact_import_id=imp.pk, batch_size=2, time_budget=0)

    contact_erase(contact=person)
    contact_import_run(contact_import_id=imp.pk, batch_size=2)

    imp.refresh_from_db()
    assert imp.status == ContactImport.Status.DONE
    assert (imp.records_done, imp.created, imp.failed) == (4, 3, 0)
    assert Identity.objects.filter(value="c@example.com").exists()
    assert not Identity.objects.filter(value="lead9@example.com").exists()
    assert not Contact.objects.filter(first_name="Zelda").exists()
    assert "lead9" not in Path(imp.path).read_text()


def test_a_blanked_record_spanning_lines_keeps_the_line_numbers_of_later_errors(tmp_path, settings):
    settings.VAR_DIR = tmp_path
    person = factories.contact(9, first_name="Zelda")
    csv = tmp_path / "leads.csv"
    csv.write_text(
        "email,first_name,notes\n"
        "a@example.com,Ann,plain\n"
        'lead9@example.com,Zelda,"met at the fair\ncalled twice"\n'
        "not-an-email,Bad,x\n"
    )
    imp = upload(csv)  # waiting for its mapping: the file is still read later

    contact_erase(contact=person)
    contact_import_start(contact_import=imp, mapping=["email", "first_name", ""])
    contact_import_run(contact_import_id=imp.pk)

    imp.refresh_from_db()
    assert (imp.created, imp.failed) == (1, 1)
    assert list(imp.errors.values_list("line", flat=True)) == [5]
    text = Path(imp.path).read_text()
    assert "lead9" not in text and "fair" not in text and "Zelda" not in text


def test_an_erased_contact_gets_no_more_messages(client, django_user_model):
    """Erasing mid-sequence stops it: the queued message is cancelled, not sent blank to the
    placeholder address, and no later step is planned."""
    from campaigns.dispatch import enrollments_materialize
    from campaigns.services import campaign_launch, enrollments_create

    sender = factories.sender("Anna")
    campaign = factories.campaign(senders=[sender], steps=(("email", 0), ("email", 86400)))
    erased, kept = factories.contact(1), factories.contact(2)
    enrollments_create(campaign=campaign, contacts=[erased, kept])
    campaign_launch(campaign=campaign)
    enrollments_materialize(now=timezone.now())
    assert Message.objects.filter(status="queued").count() == 2

    client.force_login(django_user_model.objects.create_superuser("boss", "b@x.example", "pw"))
    assert client.post(f"/api/v1/privacy/contacts/{erased.id}/erase/").status_code == 200

    theirs = Enrollment.objects.get(contact=erased)
    assert (theirs.state, theirs.next_action_at) == ("stopped", None)
    assert Message.objects.get(conversation__identity__contact=erased).status == "cancelled"
    # The other contact's sequence is untouched.
    assert Enrollment.objects.get(contact=kept).state != "stopped"
    assert Message.objects.get(conversation__identity__contact=kept).status == "queued"
