"""Real-world export files: each format is read, mapped and imported with nothing lost."""

import pytest

from contacts.models import ConsentRecord, Contact, ContactImport, Identity
from tests.contacts.conftest import run_file

pytestmark = pytest.mark.django_db


def identities(channel: str) -> set[str]:
    return set(Identity.objects.filter(channel=channel).values_list("value", flat=True))


def test_it_reads_hubspot_utf8_bom_crlf_with_row_country_for_phones():
    imp = run_file("hubspot_utf8_bom_crlf.csv")
    assert (imp.status, imp.created, imp.failed) == ("done", 3, 0)
    assert imp.sniffed["encoding"] == "utf-8-sig"
    # Bob's national US number uses his row's country, not the import's default (DE).
    assert identities("phone") == {"+4915112345678", "+14155552671", "+33612345678"}
    chloe = Contact.objects.get(first_name="Chloé")
    assert (chloe.company, chloe.time_zone, chloe.country) == (
        "Société Générale",
        "Europe/Paris",
        "FR",
    )


def test_it_reads_german_outlook_cp1252_semicolons_and_tags():
    imp = run_file("outlook_de_cp1252_semicolon.csv")
    assert (imp.status, imp.created, imp.failed) == ("done", 2, 0)
    assert (imp.sniffed["encoding"], imp.sniffed["delimiter"]) == ("cp1252", ";")
    juergen = Contact.objects.get(last_name="Müller")
    assert juergen.company == "Bäckerei Müller"
    assert sorted(t.name for t in juergen.tags.all()) == ["Bäcker", "Kunden"]
    assert "+491712345678" in identities("phone")


def test_it_reads_excel_unicode_text_utf16_tabs():
    imp = run_file("excel_unicode_utf16_tab.txt")
    assert (imp.status, imp.created, imp.failed) == ("done", 2, 0)
    assert imp.sniffed["delimiter"] == "\t"
    assert Contact.objects.filter(company="株式会社テスト", first_name="Yuki").exists()
    assert Contact.objects.filter(last_name="Иванова").exists()


def test_it_reads_google_contacts_multi_values_and_multiline_cells():
    imp = run_file("google_contacts.csv")
    assert (imp.status, imp.created, imp.failed) == ("done", 2, 0)
    maria = Contact.objects.get(first_name="Maria")
    assert set(maria.identities.filter(channel="email").values_list("value", flat=True)) == {
        "maria@ejemplo.es",
        "maria.garcia@gmail.com",
    }
    assert [t.name for t in maria.tags.all()] == ["Spain"]  # Google's "* myContacts" dropped


def test_it_skips_the_linkedin_preamble_and_reads_profile_urls():
    imp = run_file("linkedin_connections_preamble.csv")
    assert (imp.status, imp.created, imp.failed) == ("done", 2, 0)
    assert imp.sniffed["header_index"] == 2
    assert identities("linkedin") == {"priya-sharma-42", "larsberg"}


def test_it_reads_pipes_and_every_shape_of_profile_url():
    imp = run_file("apollo_pipe_socials.csv")
    assert (imp.status, imp.created) == ("done", 2)
    assert identities("x") == {"kimng", "rajp"}
    assert identities("linkedin") == {"kimng", "rajpatel"}
    assert identities("messenger") == {"kim.ng.5", "100012345678"}


def test_it_reads_latin1_and_records_opt_outs_from_the_file():
    imp = run_file("salesforce_latin1.csv")
    assert (imp.status, imp.created) == ("done", 2)
    zoe = Contact.objects.get(first_name="Zoë")
    assert zoe.last_name == "Ångström"
    assert zoe.opted_out_at is not None
    assert ConsentRecord.objects.filter(contact=zoe, kind="opted_out").count() == 1
    assert Contact.objects.get(first_name="José").opted_out_at is None


def test_it_merges_duplicates_differing_only_in_case_format_or_url_shape():
    imp = run_file("duplicates.csv")
    assert (imp.created, imp.duplicates, imp.failed) == (2, 2, 0)
    dana = Identity.objects.get(channel="email", value="dana@example.com").contact
    # First row wins; later rows only fill blanks.
    assert (dana.first_name, dana.company) == ("Dana", "Dana Corp")
    assert dana.identities.count() == 4
    assert identities("telegram") == {"dana_dev"}


def test_it_reads_tiktok_snapchat_x_and_whatsapp():
    imp = run_file("socials.csv")
    assert (imp.created, imp.failed) == (2, 0)
    assert identities("tiktok") == {"sam.smith", "alikhan_"}
    assert identities("snapchat") == {"samsmith", "samsnap2"}
    sam = Contact.objects.get(first_name="Sam")
    assert sam.last_name == "Smith"
    assert sorted(t.name for t in sam.tags.all()) == ["berlin", "vip"]


def test_a_saved_mapping_and_a_custom_field_are_honoured():
    from contacts.imports import mapping_from_saved
    from contacts.models import SavedMapping
    from tests.contacts.conftest import upload

    imp = upload("linkedin_connections_preamble.csv")
    mapping = list(imp.mapping)
    mapping[6] = "custom:connected_on"
    from contacts.imports import contact_import_start

    contact_import_start(contact_import=imp, mapping=mapping, save_as="LinkedIn")
    saved = SavedMapping.objects.get(name="LinkedIn")
    again = upload("linkedin_connections_preamble.csv")
    assert mapping_from_saved(saved=saved, header=again.sniffed["header"]) == mapping
    assert imp.status == ContactImport.Status.QUEUED


def test_hubspot_export_imports_every_contact():
    imp = run_file("hubspot_contacts_export.csv")
    assert (imp.status, imp.created, imp.failed, imp.warnings) == ("done", 3, 0, 0)
    # HubSpot's billing flag is kept as it is (under a key templates can use): no consent.
    anna = Contact.objects.get(first_name="Anna")
    assert anna.custom_fields["marketing_contact_status"] == "Marketing contact"
    assert not Identity.objects.filter(consent_at__isnull=False).exists()


def test_countries_written_as_names_import_every_contact_with_its_country():
    imp = run_file("salesforce_countries.csv")
    assert (imp.status, imp.created, imp.failed, imp.warnings) == ("done", 5, 0, 0)
    assert dict(Contact.objects.values_list("last_name", "country")) == {
        "Lindqvist": "SE",
        "Hernández": "MX",
        "Sato": "JP",
        "Murphy": "IE",
        "Hansen": "DK",
    }
    # Each national number is read in its row's country.
    assert identities("phone") == {
        "+46812345678",
        "+525512345678",
        "+81312345678",
        "+35312345678",
        "+4532123456",
    }


@pytest.mark.parametrize(
    "value, code",
    [
        ("Schweden", "SE"),
        ("Mexiko", "MX"),
        ("Suède", "SE"),
        ("Österreich", "AT"),
        ("Cote d'Ivoire", "CI"),
        ("UK", "GB"),
        ("USA", "US"),
        ("us", "US"),
        ("jp", "JP"),
    ],
)
def test_country_names_in_other_languages_codes_and_aliases_are_understood(value, code):
    from contacts.normalize import country

    assert country(value) == code


def test_sales_navigator_export_imports_every_lead_with_its_profile():
    imp = run_file("sales_navigator_export.csv")
    assert (imp.status, imp.created, imp.failed, imp.warnings) == ("done", 3, 0, 0)
    assert identities("linkedin") == {"priya-sharma-42", "larsberg", "mia-chen-cfo"}


def test_outlook_export_takes_the_job_title_not_the_salutation():
    imp = run_file("outlook_en_contacts.csv")
    assert (imp.status, imp.created, imp.failed) == ("done", 2, 0)
    assert Contact.objects.get(first_name="Jane").title == "Purchasing Manager"
    assert Contact.objects.get(first_name="John").title == ""


def test_mailchimp_unsubscribed_and_cleaned_exports_import_people_as_opted_out():
    unsubscribed = run_file("mailchimp_unsubscribed_members.csv")
    cleaned = run_file("mailchimp_cleaned_members.csv")
    assert (unsubscribed.created, unsubscribed.failed) == (2, 0)
    assert (cleaned.created, cleaned.failed) == (1, 0)
    assert Contact.objects.filter(opted_out_at__isnull=True).count() == 0
    assert ConsentRecord.objects.filter(kind="opted_out").count() == 3
    olivia = Contact.objects.get(first_name="Olivia")
    assert olivia.custom_fields["UNSUB_REASON"] == "I no longer want to receive these emails"


def test_mailchimp_tags_lose_their_quote_marks():
    imp = run_file("mailchimp_subscribed_members.csv")
    assert (imp.created, imp.failed) == (2, 0)
    emma = Contact.objects.get(first_name="Emma")
    assert sorted(t.name for t in emma.tags.all()) == ["Customer", "VIP"]
    assert [t.name for t in Contact.objects.get(first_name="Lucas").tags.all()] == ["Webinar 2024"]
    assert emma.opted_out_at is None


def test_an_email_written_with_its_name_imports_the_address():
    imp = run_file("excel_named_email_addresses.csv")
    assert (imp.created, imp.failed, imp.warnings) == (3, 0, 0)
    assert identities("email") == {
        "jane.doe@example.de",
        "tom.klein@example.de",
        "ana@example.br",
    }


def test_blank_rows_from_excel_are_skipped_not_failed():
    imp = run_file("excel_de_blank_rows.csv")
    assert (imp.status, imp.created, imp.failed) == ("done", 2, 0)
    assert imp.errors.count() == 0


def test_a_cp1252_file_whose_first_accent_is_after_256_kb_imports_those_names(tmp_path):
    path = tmp_path / "big_cp1252.csv"
    rows = ["email;first_name;last_name"]
    rows += [f"person{i}@example.com;Person;Number{i}" for i in range(9000)]
    rows += ["juergen@example.de;Jürgen;Müller", "zoe@example.fr;Zoë;Ångström"]
    path.write_bytes("\r\n".join(rows).encode("cp1252") + b"\r\n")
    assert path.read_bytes().index("ü".encode("cp1252")) > 256 * 1024
    imp = run_file(path)
    assert imp.sniffed["encoding"] == "utf-8"  # all the sniffer saw was ASCII
    assert (imp.created, imp.failed) == (9002, 0)
    assert Contact.objects.filter(first_name="Jürgen", last_name="Müller").exists()
    assert Contact.objects.filter(first_name="Zoë", last_name="Ångström").exists()
