"""Hostile and broken files: every bad row is reported with its line and reason, the good
rows of the same file are imported, and no contact is ever half-written."""

import pytest

from contacts.imports import contact_import_run
from contacts.models import Contact, ContactImport, Identity
from tests.contacts.conftest import run_file, upload

pytestmark = pytest.mark.django_db


def errors(imp: ContactImport) -> list[tuple[int, str, str]]:
    return [(e.line, e.column, e.reason) for e in imp.errors.all()]


@pytest.mark.parametrize(
    "name, reason",
    [
        ("empty.csv", "The file is empty."),
        ("binary.csv", "This looks like a binary file, not a CSV file."),
        ("xlsx_renamed.csv", "This is an Excel/ZIP file: save it as CSV first, not a CSV file."),
    ],
)
def test_unreadable_files_fail_with_a_reason_and_write_nothing(name, reason):
    imp = run_file(name)
    assert (imp.status, imp.message) == ("failed", reason)
    assert Contact.objects.count() == 0


def test_a_header_only_file_imports_nothing_and_finishes():
    imp = run_file("header_only.csv")
    assert (imp.status, imp.records_done, imp.created) == ("done", 0, 0)


def test_nul_bytes_reject_their_rows_only():
    imp = run_file("nul_bytes.csv")
    assert (imp.created, imp.failed) == (2, 2)
    assert errors(imp) == [
        (3, "email", "contains a NUL byte"),
        (4, "first_name", "contains a NUL byte"),
    ]
    assert not Identity.objects.filter(value="ok2@example.com").exists()


def test_a_200kb_cell_is_reported_not_truncated():
    imp = run_file("huge_cell.csv")
    # The contact is imported without the company that does not fit.
    assert (imp.created, imp.failed, imp.warnings) == (2, 0, 1)
    assert errors(imp) == [(2, "company", "value is 200000 characters long; at most 200 fit")]
    assert len(imp.errors.get().row[2]) == 200_000  # the original cell is kept for the error CSV


def test_ragged_rows_are_reported_and_a_trailing_delimiter_is_fine():
    imp = run_file("ragged.csv")
    assert (imp.created, imp.failed) == (3, 2)
    assert errors(imp) == [
        (3, "", "row has 2 fields but the header has 3"),
        (4, "", "row has 4 fields but the header has 3"),
    ]


def test_every_invalid_value_is_reported_with_line_column_and_reason():
    imp = run_file("invalid_values.csv")
    assert (imp.created, imp.failed, imp.warnings) == (5, 2, 3)
    assert errors(imp) == [
        (3, "email", "'not-an-email' is not an email address"),
        (4, "phone", "'12' is not a valid phone number"),
        (5, "time zone", "'Mars/Olympus' is not an IANA time zone (e.g. Europe/Berlin)"),
        (6, "", "no email, phone or social handle: a contact needs one way to reach them"),
        (8, "email", "'not-an-email-either' is not an email address"),
    ]
    assert list(imp.errors.filter(warning=True).values_list("line", flat=True)) == [3, 4, 5]


def test_a_bad_email_or_phone_does_not_drop_a_contact_reachable_another_way():
    imp = run_file("invalid_values.csv")
    # Line 3's phone and line 4's email are valid: both contacts are there, without the bad
    # value; line 8 has no valid way to reach the person and fails.
    assert Identity.objects.get(value="+4915112345679").contact.first_name == "BadEmail"
    assert Identity.objects.get(value="good2@example.com").contact.first_name == "BadPhone"
    assert not Identity.objects.filter(value__startswith="not-an-email").exists()
    assert not Contact.objects.filter(first_name="OnlyBadEmail").exists()
    assert imp.errors.get(line=8).warning is False


def test_a_bad_time_zone_imports_the_contact_without_it():
    imp = run_file("invalid_values.csv")
    zone = Contact.objects.get(first_name="BadZone")
    assert (zone.time_zone, zone.country) == ("", "DE")
    assert imp.errors.get(line=5).warning is True


def test_the_error_csv_has_the_original_row_and_the_reason():
    from contacts.csv_download import csv_lines
    from contacts.imports import import_error_rows

    imp = run_file("invalid_values.csv")
    lines = "".join(csv_lines(import_error_rows(contact_import=imp))).splitlines()
    assert lines[0] == "line,column,reason,email,phone,time zone,country,first_name"
    assert lines[1] == (
        "3,email,imported without this value: 'not-an-email' is not an email address,"
        "not-an-email,'+49 151 12345679,Europe/Berlin,DE,BadEmail"  # formula-guarded
    )
    assert lines[-1] == (
        "8,email,'not-an-email-either' is not an email address,"
        "not-an-email-either,,Europe/Berlin,DE,OnlyBadEmail"
    )


def test_rows_matching_two_existing_contacts_are_reported_not_merged():
    a = Contact.objects.create(first_name="A")
    b = Contact.objects.create(first_name="B")
    Identity.objects.create(contact=a, channel="email", value="dana@example.com")
    Identity.objects.create(contact=b, channel="instagram", value="eve.insta")
    path_rows = "email,instagram\ndana@example.com,eve.insta\n"
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "conflict.csv"
        p.write_text(path_rows)
        imp = run_file(p)
    assert (imp.failed, imp.updated) == (1, 0)
    assert "matches 2 different existing contacts" in imp.errors.get().reason
    assert Identity.objects.count() == 2


def test_a_row_matching_two_contacts_keeps_its_cells_in_the_error_report(tmp_path):
    a = Contact.objects.create(first_name="A")
    b = Contact.objects.create(first_name="B")
    Identity.objects.create(contact=a, channel="email", value="dana@example.com")
    Identity.objects.create(contact=b, channel="instagram", value="eve.insta")
    path = tmp_path / "conflict.csv"
    path.write_text("email,instagram,first_name\ndana@example.com,eve.insta,Dana\n")
    imp = run_file(path)
    assert imp.errors.get().row == ["dana@example.com", "eve.insta", "Dana"]


def test_a_crash_mid_batch_leaves_no_half_written_contact():
    """The database refuses the identity insert after the contacts went in: the batch rolls
    back whole, the import stops as failed, and resuming finishes it."""
    from django.db import connection

    imp = upload("hubspot_utf8_bom_crlf.csv", default_country="DE")
    from contacts.imports import contact_import_start

    contact_import_start(contact_import=imp, mapping=imp.mapping)
    other = Contact.objects.create(first_name="Other")
    Identity.objects.create(contact=other, channel="x", value="placeholder")
    with connection.cursor() as cur:
        cur.execute("ALTER TABLE contacts_identity RENAME TO contacts_identity_gone")
    try:
        contact_import_run(contact_import_id=imp.pk)
    finally:
        with connection.cursor() as cur:
            cur.execute("ALTER TABLE contacts_identity_gone RENAME TO contacts_identity")
    imp.refresh_from_db()
    assert imp.status == "failed" and imp.records_done == 0
    assert list(Contact.objects.values_list("first_name", flat=True)) == ["Other"]
    # Resuming carries on from the checkpoint and completes.
    from contacts.imports import contact_import_resume

    contact_import_resume(contact_import=imp)
    contact_import_run(contact_import_id=imp.pk)
    imp.refresh_from_db()
    assert (imp.status, imp.created) == ("done", 3)


def test_bad_optional_values_import_the_contact_and_say_what_was_left_out():
    imp = run_file("excel_bad_optional_values.csv")
    assert (imp.created, imp.failed, imp.warnings) == (5, 0, 5)
    assert errors(imp) == [
        (2, "Country", "'Atlantis' is not a country (ISO code such as DE, or its name)"),
        (4, "Consent", "'maybe' is not yes/no"),
        (
            5,
            "Time zone",
            "'UTC+5:30' is an offset no IANA zone has all year: give the zone (e.g. Asia/Kolkata)",
        ),
        (6, "Time zone", "'Central European' is not an IANA time zone (e.g. Europe/Berlin)"),
        (6, "Language", "value is 42 characters long; at most 16 fit"),
    ]
    zones = dict(Contact.objects.values_list("first_name", "time_zone"))
    # A fixed offset maps to its Etc/GMT zone (whose sign is the other way round).
    assert zones == {
        "Ada": "Europe/London",
        "Ben": "Etc/GMT-1",
        "Cem": "Etc/GMT-2",
        "Dev": "",
        "Eve": "",
    }
    ada = Contact.objects.get(first_name="Ada")
    assert ada.country == ""
    # A consent that cannot be read is not recorded.
    assert Identity.objects.get(value="cem@example.com").consent_at is None
    assert Identity.objects.get(value="ben@example.com").consent_at is not None
