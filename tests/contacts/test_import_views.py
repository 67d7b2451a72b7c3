import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

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
    assert body.splitlines()[1].startswith("3,email,'not-an-email' is not an email address")


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
