"""The whole import through the browser, with the import running in a real Celery worker."""

import pytest

from contacts.models import Contact, ContactImport
from tests.contacts.conftest import FIXTURES

pytestmark = [pytest.mark.live_worker, pytest.mark.django_db(transaction=True)]


def test_upload_remap_import_and_watch_the_progress_bar(logged_in_page, live_worker):
    page = logged_in_page
    page.goto("/contacts/imports/")
    page.set_input_files("input[name=file]", str(FIXTURES / "hubspot_utf8_bom_crlf.csv"))
    page.fill("input[name=default_country]", "DE")
    page.fill("input[name=tags]", "Trade fair")
    page.click("#upload-form button[type=submit]")

    # The preview shows the rows and the guessed mapping; map "Lifecycle Stage" to tags.
    page.wait_for_selector("#preview")
    assert "Anna.Schmidt@Example.de" in page.inner_text("#preview")
    stage = page.locator("select[data-column='Lifecycle Stage']")
    assert stage.input_value() == "custom"  # a column nothing fits is kept unless ignored
    stage.select_option("tags")
    page.fill("input[name=save_as]", "HubSpot")
    page.click("#start-import")

    page.wait_for_selector("#import-summary", timeout=30_000)
    assert page.inner_text(".progress-bar") == "100%"
    assert page.inner_text("#import-status") == "Done"
    assert "Created\t3" in page.inner_text("#import-summary")

    imp = ContactImport.objects.get()
    assert imp.mapping[8] == "tags"
    anna = Contact.objects.get(first_name="Anna")
    assert sorted(t.name for t in anna.tags.all()) == ["Trade fair", "lead"]


def test_an_unreadable_upload_shows_the_reason_not_an_error_page(logged_in_page):
    page = logged_in_page
    page.goto("/contacts/imports/")
    page.set_input_files("input[name=file]", str(FIXTURES / "binary.csv"))
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector(".alert-danger")
    assert "binary file" in page.inner_text(".alert-danger")
    assert page.inner_text("#import-status") == "Failed"
