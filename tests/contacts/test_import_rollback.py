"""Rolling back an import asks first: how many contacts go, how many of them have activity
that would go with them, and keeps those unless told otherwise."""

import pytest

from campaigns.models import Enrollment
from campaigns.services import enrollments_create
from contacts.imports import contact_import_rollback, contact_import_rollback_preview
from contacts.models import Contact, ContactImport, Identity
from outreach.models import Conversation, Message
from pipelines.models import Deal, Pipeline, Stage
from tests import factories
from tests.contacts.conftest import run_file


def _import_with_activity() -> tuple[ContactImport, dict[str, Contact]]:
    """Anna replied, Bob is enrolled in a campaign and has a deal, Chloé has nothing."""
    imp = run_file("hubspot_utf8_bom_crlf.csv")
    people = {c.first_name: c for c in Contact.objects.filter(created_by_import=imp.pk)}
    sender = factories.sender()
    conversation = Conversation.objects.create(
        identity=people["Anna"].identities.get(channel="email"), sender=sender
    )
    Message.objects.create(
        conversation=conversation,
        sender=sender,
        channel="email",
        direction=Message.Direction.INBOUND,
        status=Message.Status.RECEIVED,
        body="Interested, call me",
    )
    campaign = factories.campaign(senders=[sender])
    enrollments_create(campaign=campaign, contacts=[people["Bob"]])
    pipeline = Pipeline.objects.create(name="Rollback tests")
    stage = Stage.objects.create(pipeline=pipeline, name="New", position=1)
    Deal.objects.create(contact=people["Bob"], pipeline=pipeline, stage=stage)
    return imp, people


@pytest.mark.django_db
def test_rollback_preview_counts_contacts_with_replies_enrollments_and_deals():
    imp, _ = _import_with_activity()
    preview = contact_import_rollback_preview(contact_import=imp)
    assert (preview.contacts, preview.active, preview.inactive) == (3, 2, 1)
    assert dict(preview.activity) == {
        "have conversations with messages": 1,
        "replied": 1,
        "are enrolled in a campaign": 1,
        "have a deal": 1,
    }


@pytest.mark.django_db
def test_rollback_keeps_contacts_with_activity_and_their_identities_by_default():
    imp, people = _import_with_activity()
    assert contact_import_rollback(contact_import=imp) == 1
    assert sorted(Contact.objects.values_list("first_name", flat=True)) == ["Anna", "Bob"]
    assert people["Anna"].identities.filter(channel="email").exists()
    assert Message.objects.count() == Enrollment.objects.count() == Deal.objects.count() == 1


@pytest.mark.django_db
def test_rollback_told_not_to_keep_deletes_every_contact_and_its_activity():
    imp, _ = _import_with_activity()
    assert contact_import_rollback(contact_import=imp, keep_active=False) == 3
    assert not Contact.objects.exists()
    assert Message.objects.count() == Enrollment.objects.count() == Deal.objects.count() == 0


@pytest.mark.django_db
def test_the_rollback_button_alone_deletes_nothing(admin_client):
    imp, _ = _import_with_activity()
    page = admin_client.get(f"/contacts/imports/{imp.pk}/")
    assert f'href="/contacts/imports/{imp.pk}/rollback/"' in page.content.decode()
    response = admin_client.post(f"/contacts/imports/{imp.pk}/rollback/")
    assert response.status_code == 200
    assert "Yes, roll back" in response.content.decode()
    assert Contact.objects.count() == 3
    imp.refresh_from_db()
    assert imp.status == ContactImport.Status.DONE


@pytest.mark.django_db(transaction=True)
def test_rolling_back_asks_first_and_keeps_contacts_with_activity(logged_in_page):
    imp, _ = _import_with_activity()
    page = logged_in_page
    page.goto(f"/contacts/imports/{imp.pk}/")
    page.click("#rollback-link")

    page.wait_for_selector("#confirm-rollback")
    assert Contact.objects.count() == 3  # nothing deleted by the first click
    assert page.inner_text("[data-testid=will-delete]") == "3"
    assert page.inner_text("[data-testid=active]") == "2"
    activity = page.inner_text("#rollback-activity")
    assert "1 replied" in activity and "1 are enrolled in a campaign" in activity
    assert not page.is_checked("#delete_active")  # keeping them needs no click
    page.click("#confirm-rollback-button")

    page.wait_for_selector("#import-status")
    assert page.inner_text("#import-status") == "Rolled back"
    assert "1 contact deleted, 2 with activity kept." in page.inner_text("body")
    assert sorted(Contact.objects.values_list("first_name", flat=True)) == ["Anna", "Bob"]
    assert Message.objects.count() == Enrollment.objects.count() == Deal.objects.count() == 1


@pytest.mark.django_db
def test_rollback_keeps_an_identity_it_added_to_an_older_contact_with_a_conversation():
    older = factories.contact(1)  # existed before the import, with an email identity
    imp = run_file("hubspot_utf8_bom_crlf.csv")
    added = Identity.objects.create(
        contact=older, channel="telegram", value="@older", created_by_import=imp.pk
    )
    sender = factories.sender(channel="telegram")
    conversation = Conversation.objects.create(identity=added, sender=sender)
    Message.objects.create(
        conversation=conversation,
        sender=sender,
        channel="telegram",
        direction=Message.Direction.INBOUND,
        status=Message.Status.RECEIVED,
        body="Yes please",
    )
    contact_import_rollback(contact_import=imp, keep_active=False)
    assert Identity.objects.filter(pk=added.pk).exists()
    assert Message.objects.filter(conversation=conversation).count() == 1


@pytest.mark.django_db
def test_confirming_a_rollback_without_ticking_anything_keeps_contacts_with_activity(
    admin_client,
):
    imp, _ = _import_with_activity()
    admin_client.post(f"/contacts/imports/{imp.pk}/rollback/", {"confirm": "1"})
    assert sorted(Contact.objects.values_list("first_name", flat=True)) == ["Anna", "Bob"]
