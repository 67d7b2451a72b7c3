"""The builder's and the admin's launch warnings."""

import pytest

from campaigns.models import Enrollment
from campaigns.services import (
    LaunchError,
    campaign_launch,
    campaign_launch_check,
    enrollments_create,
)
from campaigns.triggers.models import Trigger
from contacts.models import Tag
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_campaign_with_no_contacts_cannot_be_launched_from_the_builder(staff_client):
    empty = factories.campaign(senders=[factories.sender()], name="Empty")

    page = staff_client.post(
        f"/campaigns/{empty.pk}/build/review/", {"confirm_warnings": "on"}
    ).content.decode()

    assert "No contacts are enrolled: enrol some before launching" in page
    empty.refresh_from_db()
    assert empty.status == "draft"


def test_a_campaign_fed_by_an_entry_trigger_may_start_empty_after_a_warning():
    empty = factories.campaign(senders=[factories.sender()], name="Fed by DMs")
    Trigger.objects.create(
        name="Price DMs", channel="instagram", event_type="dm", match="any", campaign=empty
    )
    problems, warnings = campaign_launch_check(campaign=empty)
    assert problems == []
    assert warnings == [
        "No contacts are enrolled yet: the campaign sends once its entry trigger enrols someone."
    ]
    with pytest.raises(LaunchError):
        campaign_launch(campaign=empty)
    assert campaign_launch(campaign=empty, confirm_warnings=True).status == "running"


def test_the_builder_asks_to_confirm_warnings_only_when_there_are_some(staff_client):
    sender = factories.sender()
    ready = factories.campaign(senders=[sender], name="Ready")
    enrollments_create(campaign=ready, contacts=[factories.contact(1)])
    # Warns: the contact has no company.
    unsure = factories.campaign(senders=[sender], name="Unsure", body="Hi {{ company }}")
    enrollments_create(campaign=unsure, contacts=[factories.contact(2)])

    ready_page = staff_client.get(f"/campaigns/{ready.pk}/build/review/").content.decode()
    unsure_page = staff_client.get(f"/campaigns/{unsure.pk}/build/review/").content.decode()

    assert "No problems found." in ready_page
    assert 'name="confirm_warnings"' not in ready_page
    assert 'name="confirm_warnings"' in unsure_page


def test_the_builder_enrols_the_chosen_contacts_oldest_first(staff_client):
    campaign = factories.campaign(senders=[factories.sender()])
    tag = Tag.objects.create(name="Berlin fair")
    people = [factories.contact(n) for n in range(3)]
    for person in people:
        person.tags.add(tag)

    staff_client.post(f"/campaigns/{campaign.pk}/build/audience/", {"tags": [tag.pk]})

    enrolled = Enrollment.objects.filter(campaign=campaign).order_by("id")
    assert [e.contact_id for e in enrolled] == [p.id for p in people]
