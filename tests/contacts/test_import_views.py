import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from contacts.models import ContactImport
from tests.contacts.conftest import FIXTURES, run_file

pytestmark = pytest.mark.django_db


def test_an_empty_upload_is_a_form_error(admin_client):
    response = admin_client.post(
        "/contacts/imports/", {"file": SimpleUploadedFile("e.csv", b""), "mode": "update"}
    )
    assert response.status_code == 200
    assert b"The submitted file is empty." in response.content


@pytest.mark.parametrize(
    "name", ["binary.csv", "xlsx_renamed.csv", "header_only.csv", "nul_bytes.csv"]
)
def test_uploading_any_file_never_gives_a_500(admin_client, name):
    data = (FIXTURES / name).read_bytes()
    response = admin_client.post(
        "/contacts/imports/", {"file": SimpleUploadedFile(name, data), "mode": "update"}
    )
    assert response.status_code == 302
    page = admin_client.get(response["Location"])
    assert page.status_code == 200


def test_a_mapping_that_does_not_fit_is_an_error_message(admin_client):
    data = (FIXTURES / "ragged.csv").read_bytes()
    admin_client.post(
        "/contacts/imports/", {"file": SimpleUploadedFile("r.csv", data), "mode": "fill"}
    )
    imp = ContactImport.objects.get()
    response = admin_client.post(f"/contacts/imports/{imp.pk}/", {"col_0": "nonsense"})
    assert response.status_code == 200
    assert b"does not fit" in response.content


def test_the_error_csv_downloads(admin_client):
    imp = run_file("invalid_values.csv")
    response = admin_client.get(f"/contacts/imports/{imp.pk}/errors.csv")
    body = b"".join(response.streaming_content).decode()
    assert body.splitlines()[1].startswith(
        "3,email,imported without this value: 'not-an-email' is not an email address"
    )


def test_admin_add_goes_to_the_upload_page_and_the_list_shows_imports(admin_client):
    run_file("hubspot_utf8_bom_crlf.csv")
    assert admin_client.get("/admin/contacts/contactimport/add/")["Location"] == (
        "/contacts/imports/"
    )
    assert admin_client.get("/admin/contacts/contactimport/").status_code == 200


def test_a_custom_field_from_a_header_with_spaces_or_umlauts_can_be_used_in_templates(
    admin_client,
):
    from campaigns.rendering import compile_template, contact_context
    from contacts.imports import contact_import_run
    from contacts.models import Contact

    data = "Email,Company Size,Größe,会社\nana@example.com,50-200,XL,Acme KK\n".encode()
    admin_client.post(
        "/contacts/imports/", {"file": SimpleUploadedFile("c.csv", data), "mode": "update"}
    )
    imp = ContactImport.objects.get()
    page = admin_client.get(f"/contacts/imports/{imp.pk}/").content.decode()
    assert "{{ custom.company_size }}" in page
    assert "{{ custom.groesse }}" in page

    mapping = {"col_0": "email", "col_1": "custom", "col_2": "custom", "col_3": "custom"}
    response = admin_client.post(f"/contacts/imports/{imp.pk}/", mapping)
    assert response.status_code == 302
    imp.refresh_from_db()
    assert imp.mapping == ["email", "custom:company_size", "custom:groesse", "custom:column_4"]
    contact_import_run(contact_import_id=imp.pk)
    contact = Contact.objects.get()
    assert contact.custom_fields == {
        "company_size": "50-200",
        "groesse": "XL",
        "column_4": "Acme KK",
    }
    text = "{{ custom.company_size }} / {{ custom.groesse }} / {{ custom.column_4 }}"
    assert compile_template(text).render(contact_context(contact=contact), "s") == (
        "50-200 / XL / Acme KK"
    )


def test_a_typed_custom_field_name_is_made_usable_in_templates_and_kept_once(admin_client):
    data = b"Email,A,B\nana@example.com,1,2\n"
    admin_client.post(
        "/contacts/imports/", {"file": SimpleUploadedFile("c.csv", data), "mode": "update"}
    )
    imp = ContactImport.objects.get()
    mapping = {"col_0": "email", "col_1": "custom", "custom_1": "Deal Size", "col_2": "custom"}
    admin_client.post(f"/contacts/imports/{imp.pk}/", {**mapping, "custom_2": "deal size"})
    imp.refresh_from_db()
    assert imp.mapping == ["email", "custom:deal_size", "custom:deal_size_2"]


def test_the_import_page_lists_the_values_left_out_with_their_lines(admin_client):
    imp = run_file("excel_bad_optional_values.csv")
    page = admin_client.get(f"/contacts/imports/{imp.pk}/").content.decode()
    assert "Warnings (imported without a value)</th><td>5<" in page
    assert "line 2, Country: &#x27;Atlantis&#x27; is not a country" in page
    assert f"/contacts/imports/{imp.pk}/errors.csv" in page


def test_an_unknown_default_country_is_refused_on_the_upload_form(admin_client):
    data = (FIXTURES / "hubspot_utf8_bom_crlf.csv").read_bytes()
    response = admin_client.post(
        "/contacts/imports/",
        {"file": SimpleUploadedFile("h.csv", data), "mode": "update", "default_country": "XX"},
    )
    assert response.status_code == 200
    assert b"is not a country code that phone numbers use" in response.content
    assert not ContactImport.objects.exists()


def test_uk_as_default_country_reads_british_numbers(admin_client):
    data = b"email,phone\nann@example.co.uk,07700 900123\n"
    admin_client.post(
        "/contacts/imports/",
        {"file": SimpleUploadedFile("uk.csv", data), "mode": "update", "default_country": "uk"},
    )
    assert ContactImport.objects.get().default_country == "GB"


def test_the_api_refuses_an_unknown_default_country(admin_user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(admin_user)
    data = (FIXTURES / "hubspot_utf8_bom_crlf.csv").read_bytes()
    response = client.post(
        "/api/v1/imports/",
        {"file": SimpleUploadedFile("h.csv", data), "default_country": "EU"},
        format="multipart",
    )
    assert response.status_code == 400
    assert "is not a country code" in response.json()["default_country"][0]
    response = client.post(
        "/api/v1/imports/",
        {"file": SimpleUploadedFile("h.csv", data), "default_country": "UK"},
        format="multipart",
    )
    assert (response.status_code, ContactImport.objects.get().default_country) == (201, "GB")


def test_a_mapping_without_an_email_phone_or_handle_is_refused_before_it_starts(
    admin_client, django_capture_on_commit_callbacks
):
    data = (FIXTURES / "hubspot_utf8_bom_crlf.csv").read_bytes()
    admin_client.post(
        "/contacts/imports/", {"file": SimpleUploadedFile("h.csv", data), "mode": "update"}
    )
    imp = ContactImport.objects.get()
    # Only names and the company mapped.
    form = {f"col_{i}": t for i, t in enumerate(imp.mapping) if t in ("first_name", "company")}
    with django_capture_on_commit_callbacks() as queued:
        response = admin_client.post(f"/contacts/imports/{imp.pk}/", form)
    assert response.status_code == 200
    assert b"No column is mapped to an email, phone or channel handle" in response.content
    imp.refresh_from_db()
    assert (imp.status, queued) == ("uploaded", [])


def test_the_api_refuses_to_start_a_mapping_without_an_identity(admin_user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(admin_user)
    data = (FIXTURES / "hubspot_utf8_bom_crlf.csv").read_bytes()
    created = client.post(
        "/api/v1/imports/", {"file": SimpleUploadedFile("h.csv", data)}, format="multipart"
    ).json()
    mapping = ["first_name"] + [""] * (len(created["mapping"]) - 1)
    response = client.post(
        f"/api/v1/imports/{created['id']}/start/", {"mapping": mapping}, format="json"
    )
    assert response.status_code == 400
    assert "No column is mapped" in response.json()["mapping"][0]


def test_resuming_a_running_import_is_refused(admin_client, django_capture_on_commit_callbacks):
    data = (FIXTURES / "hubspot_utf8_bom_crlf.csv").read_bytes()
    admin_client.post(
        "/contacts/imports/", {"file": SimpleUploadedFile("h.csv", data), "mode": "update"}
    )
    imp = ContactImport.objects.get()
    ContactImport.objects.filter(pk=imp.pk).update(status="running")
    with django_capture_on_commit_callbacks() as queued:
        response = admin_client.post(f"/contacts/imports/{imp.pk}/resume/", follow=True)
    assert queued == []  # no second worker on the same rows
    imp.refresh_from_db()
    assert imp.status == "running"
    assert b"This import is running; only a cancelled or failed import can resume." in (
        response.content
    )


def test_an_api_import_and_a_guessed_mapping_make_custom_keys_templates_can_use(admin_user):
    from rest_framework.test import APIClient

    from contacts.headers import guess_target

    client = APIClient()
    client.force_authenticate(admin_user)
    data = b"Email,Company Size\nana@example.com,50-200\n"
    created = client.post(
        "/api/v1/imports/", {"file": SimpleUploadedFile("c.csv", data)}, format="multipart"
    ).json()
    response = client.post(
        f"/api/v1/imports/{created['id']}/start/",
        {"mapping": ["email", "custom:Company Size"]},
        format="json",
    )
    assert response.status_code in (200, 202), response.content
    assert ContactImport.objects.get(pk=created["id"]).mapping == ["email", "custom:company_size"]
    assert guess_target("Marketing contact status") == "custom:marketing_contact_status"


def test_an_uploaded_import_whose_file_was_never_read_shows_a_clear_page(admin_client, admin_user):
    # No sniffed header: a row left in this state (e.g. written before the file was read)
    # must not answer 500, neither on its page nor when started from it or the API.
    imp = ContactImport.objects.create(
        original_name="unread.csv", path="/nonexistent/unread.csv", created_by=admin_user
    )
    page = admin_client.get(f"/contacts/imports/{imp.pk}/")
    assert page.status_code == 200
    assert b"could not be read" in page.content
    started = admin_client.post(f"/contacts/imports/{imp.pk}/", {"col_0": "email"})
    assert started.status_code == 200
    assert b"could not be read" in started.content
    imp.refresh_from_db()
    assert imp.status == ContactImport.Status.UPLOADED
    api = APIClient()
    api.force_authenticate(admin_user)
    response = api.post(f"/api/v1/imports/{imp.pk}/start/", {"mapping": ["email"]}, format="json")
    assert response.status_code == 400
    assert "could not be read" in response.json()["mapping"][0]
