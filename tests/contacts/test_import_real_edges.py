"""CSV files as real tools and people write them: a stray quote, a header with no rows, a
notes column, national numbers with no country given, multi-value cells. Each goes through
the upload -> mapping -> run path the import page uses."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from contacts.imports import contact_import_run
from contacts.models import Contact, ContactImport, Identity
from tests.contacts.conftest import FIXTURES, run_file, upload

pytestmark = pytest.mark.django_db


def emails() -> set[str]:
    return set(Identity.objects.filter(channel="email").values_list("value", flat=True))


def phones() -> set[str]:
    return set(Identity.objects.filter(channel="phone").values_list("value", flat=True))


def upload_page(client, name: str, data: bytes | None = None, **fields) -> ContactImport:
    data = data if data is not None else (FIXTURES / name).read_bytes()
    response = client.post(
        "/contacts/imports/",
        {"file": SimpleUploadedFile(name, data), "mode": "update", **fields},
    )
    assert response.status_code == 302
    return ContactImport.objects.latest("id")


def test_an_unbalanced_quote_costs_only_its_own_line_and_names_the_line_it_opened_on():
    imp = run_file("unbalanced_quote_midfile.csv")
    assert (imp.status, imp.created, imp.failed) == ("done", 4, 1)
    [error] = imp.errors.all()
    assert error.line == 3
    assert "quote opened on line 3 is never closed" in error.reason
    assert "left open above" not in error.reason
    assert emails() == {"q1@example.com", "q3@example.com", "q4@example.com", "q5@example.com"}
    # The row after it, with a correctly quoted cell, reads as written.
    assert Contact.objects.get(first_name="Also Rescued").company == "Quoted, Co"


def test_an_unbalanced_quote_on_the_second_to_last_line_still_imports_the_last_row():
    imp = run_file("unbalanced_quote.csv")
    assert (imp.created, imp.failed) == (2, 1)
    [(line, reason)] = imp.errors.values_list("line", "reason")
    assert line == 3 and "quote opened on line 3" in reason
    assert emails() == {"q1@example.com", "q3@example.com"}


def test_a_header_only_file_says_it_has_no_data_rows(client, admin_user):
    client.force_login(admin_user)
    uploaded = upload_page(client, "header_only.csv")
    mapping_page = client.get(f"/contacts/imports/{uploaded.pk}/").content.decode()
    assert "no data rows" in mapping_page
    imp = run_file("header_only.csv")
    assert (imp.status, imp.records_done, imp.created) == ("done", 0, 0)
    assert "no data rows" in imp.message
    page = client.get(f"/contacts/imports/{imp.pk}/").content.decode()
    assert "no data rows" in page


def test_an_unknown_column_becomes_a_custom_field_and_multiline_notes_are_kept():
    imp = upload("notes_multiline.csv", default_country="DE")
    assert imp.mapping == ["email", "first_name", "custom:Notes", "custom:lead_source"]
    imp = run_file("notes_multiline.csv")
    nina = Contact.objects.get(first_name="Nina")
    assert nina.custom_fields == {
        "Notes": "Met at DMEXCO, stand B12.\nWants a call in March.\nBudget approved",
        "lead_source": "Trade fair",
    }


def test_a_german_file_suggests_germany_and_its_national_number_with_a_slash_is_imported(
    client, admin_user
):
    client.force_login(admin_user)
    imp = upload_page(client, "outlook_de_national_slash.csv")  # no default country given
    page = client.get(f"/contacts/imports/{imp.pk}/").content.decode()
    assert 'name="default_country" value="DE"' in page
    assert "suggested from the file" in page
    form = {f"col_{i}": target for i, target in enumerate(imp.mapping)}
    response = client.post(f"/contacts/imports/{imp.pk}/", {**form, "default_country": "DE"})
    assert response.status_code == 302
    contact_import_run(contact_import_id=imp.pk)
    imp.refresh_from_db()
    assert (imp.created, imp.failed, imp.warnings) == (3, 0, 0)
    assert phones() == {"+491712345678", "+491701234567", "+49301234567"}


@pytest.mark.parametrize(
    "data, country",
    [
        # English headers, British numbers written with their +44.
        (b"email,phone\na@example.co.uk,+44 7700 900123\nb@example.co.uk,07700 900456\n", "GB"),
        # A country column says more than the numbers do.
        (b"email,phone,country\na@example.fr,06 12 34 56 78,France\nb@example.fr,,FR\n", "FR"),
        # German headers and no country anywhere else.
        (b"E-Mail;Telefon;Firma\nx@example.de;030 1234567;Muster GmbH\n", "DE"),
    ],
)
def test_the_default_country_is_suggested_from_the_file(client, admin_user, data, country):
    client.force_login(admin_user)
    imp = upload_page(client, "c.csv", data)
    assert imp.default_country == country


def test_a_default_country_the_user_gives_wins_over_the_suggestion(client, admin_user):
    client.force_login(admin_user)
    imp = upload_page(client, "outlook_de_national_slash.csv", default_country="AT")
    assert imp.default_country == "AT"
    form = {f"col_{i}": target for i, target in enumerate(imp.mapping)}
    client.post(f"/contacts/imports/{imp.pk}/", {**form, "default_country": "XX"})
    imp.refresh_from_db()
    assert (imp.status, imp.default_country) == ("uploaded", "AT")  # refused, with a message


def test_a_possible_but_not_valid_number_is_kept_with_a_warning():
    imp = run_file("possible_phone_numbers.csv")
    assert (imp.created, imp.failed, imp.warnings) == (1, 0, 1)
    assert phones() == {"+49170123456"}
    [warning] = imp.errors.filter(warning=True)
    assert "kept" in warning.reason and "+49 170 123456" in warning.reason


def test_the_import_page_and_report_say_a_doubtful_number_was_kept(client, admin_user):
    client.force_login(admin_user)
    imp = run_file("possible_phone_numbers.csv")
    page = client.get(f"/contacts/imports/{imp.pk}/").content.decode()
    assert "may not be a valid phone number: kept</li>" in page
    report = b"".join(client.get(f"/contacts/imports/{imp.pk}/errors.csv").streaming_content)
    assert b"imported without this value" not in report
    assert b"may not be a valid phone number: kept" in report


def test_each_value_of_a_multi_value_cell_is_judged_on_its_own():
    imp = run_file("multi_value_cells.csv")
    assert (imp.created, imp.failed, imp.warnings) == (1, 0, 2)
    assert emails() == {"maria@ejemplo.es", "maria.garcia@gmail.com"}
    assert phones() == {"+34612345678", "+34622345678"}
    reasons = sorted(imp.errors.values_list("reason", flat=True))
    assert "'n/a'" in reasons[0] and "'not-an-address'" in reasons[1]


def test_the_mapping_page_counts_the_lines_above_the_header(client, admin_user):
    client.force_login(admin_user)
    imp = upload_page(client, "linkedin_connections_preamble.csv")
    page = client.get(f"/contacts/imports/{imp.pk}/").content.decode()
    # "Notes:", the quoted notice and a blank line: three lines, two records.
    assert "3 lines above the header skipped" in page


@pytest.mark.parametrize(
    "name, words",
    [
        ("tab_delimited.txt", "tab"),
        ("outlook_de_cp1252_semicolon.csv", "semicolon"),
        ("apollo_pipe_socials.csv", "pipe"),
        ("duplicates.csv", "comma"),
    ],
)
def test_the_mapping_page_names_the_delimiter_in_words(client, admin_user, name, words):
    client.force_login(admin_user)
    imp = upload_page(client, name)
    page = client.get(f"/contacts/imports/{imp.pk}/").content.decode()
    assert f"delimiter: {words}" in page


def test_a_notice_over_several_lines_above_the_header_is_skipped_whole(tmp_path):
    # LinkedIn's notice, wrapped over two lines as a text editor saves it.
    path = tmp_path / "Connections.csv"
    path.write_text(
        "Notes:\n"
        '"When exporting your connection data, you may notice that some of the email\n'
        'addresses are missing. You will only see email addresses for connections who allow it."\n'
        "\n"
        "First Name,Last Name,URL,Email Address,Company,Position,Connected On\n"
        "Priya,Sharma,https://www.linkedin.com/in/priya-sharma-42,priya@example.in,Infosys,"
        "Engineer,12 Mar 2024\n"
        'Lars,Berg,https://www.linkedin.com/in/larsberg/,,"Volvo,Buyer,01 Jan 2023\n'
        "Mei,Lin,https://www.linkedin.com/in/meilin/,mei@example.cn,Tencent,PM,02 Feb 2024\n"
    )
    imp = run_file(path)
    assert (imp.created, imp.failed) == (2, 1)
    assert imp.errors.get().line == 7
    assert emails() == {"priya@example.in", "mei@example.cn"}
