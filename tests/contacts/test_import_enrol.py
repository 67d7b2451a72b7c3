import pytest
from django.contrib.auth.models import User

from campaigns.models import Campaign, Enrollment, Sequence
from contacts.forms import ImportUploadForm
from tests.contacts.conftest import run_file

pytestmark = pytest.mark.django_db


def test_an_import_can_enrol_its_contacts_into_a_campaign():
    campaign = Campaign.objects.create(name="Q3", sequence=Sequence.objects.create(name="s"))
    assert (f"campaign:{campaign.pk}", "Enrol into campaign: Q3") in (
        ImportUploadForm(user=User.objects.create_superuser("root")).fields["then"].choices
    )
    imp = run_file("hubspot_utf8_bom_crlf.csv", hook_options={"then": f"campaign:{campaign.pk}"})
    assert imp.created == 3
    assert Enrollment.objects.filter(campaign=campaign).count() == 3


def test_an_import_offers_a_finished_campaign_and_enrolling_runs_it_again():
    campaign = Campaign.objects.create(
        name="Spring", sequence=Sequence.objects.create(name="s"), status="finished"
    )
    choices = ImportUploadForm(user=User.objects.create_superuser("root")).fields["then"].choices
    assert (
        f"campaign:{campaign.pk}",
        "Enrol into campaign: Spring (finished: enrolling runs it again)",
    ) in choices
    imp = run_file("hubspot_utf8_bom_crlf.csv", hook_options={"then": f"campaign:{campaign.pk}"})
    assert imp.created == 3
    campaign.refresh_from_db()
    assert campaign.status == "running"
    assert Enrollment.objects.filter(campaign=campaign).count() == 3
