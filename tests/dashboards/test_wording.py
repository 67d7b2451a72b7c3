"""The app's pages count in plain English: "1 row done", "1 contact enrolled", "Sending
switches", never "1 rows" or "contact(s)"."""

import pytest
from django.contrib.messages import get_messages
from django.utils.html import escape

from tests import factories
from tests.contacts.conftest import run_file

pytestmark = pytest.mark.django_db


def test_a_finished_one_row_import_says_1_row_done_and_not_failed_so_far(staff_client, tmp_path):
    csv = tmp_path / "one.csv"
    csv.write_text("email,first_name\nana@example.com,Ana\n")
    imp = run_file(csv, user=staff_client.user)

    page = staff_client.get(f"/contacts/imports/{imp.pk}/progress/").content.decode()

    assert "1 row done · " in page
    assert "0 failed" in page and "so far" not in page
    assert "delete the 1 contact it created" in page


def test_enrolling_one_contact_in_the_builder_says_1_contact(staff_client):
    campaign = factories.campaign(senders=[factories.sender()])
    tag = factories.contact(1).tags.create(name="Fair")

    response = staff_client.post(f"/campaigns/{campaign.pk}/build/audience/", {"tags": [tag.pk]})

    assert [str(m) for m in get_messages(response.wsgi_request)] == ["1 contact enrolled."]


def test_the_admin_names_the_kill_switch_sending_switches(staff_client):
    page = staff_client.get("/admin/").content.decode()
    assert escape("Sending switches") in page
