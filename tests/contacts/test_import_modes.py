"""Modes, dedupe against the database, idempotence, cancel, resume and rollback."""

from pathlib import Path

import pytest

from contacts.imports import (
    contact_import_cancel,
    contact_import_resume,
    contact_import_rollback,
    contact_import_run,
    contact_import_start,
)
from contacts.models import Contact, ContactImport, Identity, Tag
from contacts.seams import ContactsEvents, ContactsImported, contacts_events
from tests.contacts.conftest import FIXTURES, run_file, upload

pytestmark = pytest.mark.django_db

ALL_FILES = [
    "hubspot_utf8_bom_crlf.csv",
    "outlook_de_cp1252_semicolon.csv",
    "excel_unicode_utf16_tab.txt",
    "google_contacts.csv",
    "linkedin_connections_preamble.csv",
    "apollo_pipe_socials.csv",
    "salesforce_latin1.csv",
    "duplicates.csv",
    "socials.csv",
    "invalid_values.csv",
]


def snapshot() -> tuple:
    contacts = list(
        Contact.objects.order_by("id").values_list(
            "id", "first_name", "last_name", "company", "title", "time_zone", "country",
            "custom_fields", "owner_id", "opted_out_at",
        )
    )  # fmt: skip
    idents = list(Identity.objects.order_by("id").values_list("contact_id", "channel", "value"))
    tags = list(
        Contact.tags.through.objects.order_by("contact_id", "tag_id").values_list(
            "contact_id", "tag_id"
        )
    )
    return contacts, idents, tags, Tag.objects.count()


@pytest.mark.parametrize("mode", ["update", "fill", "create"])
def test_importing_the_same_file_twice_changes_nothing(mode):
    for name in ALL_FILES:
        first = run_file(name, mode=mode)
        before = snapshot()
        again = run_file(name, mode=mode)
        assert (again.created, again.updated, again.failed) == (0, 0, first.failed), name
        assert snapshot() == before, name


def test_update_overwrites_fill_only_fills_create_skips(tmp_path):
    first = tmp_path / "a.csv"
    first.write_text("email,first name,company\nx@example.com,Xena,\n")
    second = tmp_path / "b.csv"
    second.write_text("Email,First Name,Company\nX@Example.com,Xavier,Xco\n")
    run_file(first)
    imp = run_file(second, mode="create")
    assert (imp.skipped, Contact.objects.get().first_name) == (1, "Xena")
    imp = run_file(second, mode="fill")
    c = Contact.objects.get()
    assert (imp.updated, c.first_name, c.company) == (1, "Xena", "Xco")
    imp = run_file(second, mode="update")
    assert (imp.updated, Contact.objects.get().first_name) == (1, "Xavier")


def test_a_contact_matched_by_any_identity_gains_the_new_ones(tmp_path):
    c = Contact.objects.create(first_name="Dana")
    Identity.objects.create(contact=c, channel="instagram", value="dana.dev")
    imp = run_file("duplicates.csv")
    assert (imp.created, imp.updated) == (1, 1)
    assert set(c.identities.values_list("channel", flat=True)) == {
        "email", "phone", "instagram", "telegram",
    }  # fmt: skip


def test_duplicates_across_batches_merge_like_duplicates_within_one():
    imp = run_file("duplicates.csv", batch_size=1)
    assert (imp.created, imp.duplicates, imp.updated) == (2, 2, 0)
    dana = Identity.objects.get(value="dana@example.com").contact
    assert (dana.first_name, dana.company) == ("Dana", "Dana Corp")


def test_tags_and_owner_are_assigned_on_import(django_user_model):
    rep = django_user_model.objects.create_user("rep")
    imp = run_file("hubspot_utf8_bom_crlf.csv", tags=["Fair 2025"], owner=rep)
    assert imp.created == 3
    assert Contact.objects.filter(owner=rep, tags__name="Fair 2025").count() == 3


def test_an_opt_out_is_never_cleared_by_an_import(tmp_path):
    f = tmp_path / "o.csv"
    f.write_text("email,do not contact\no@example.com,yes\n")
    run_file(f)
    f.write_text("email,do not contact\no@example.com,no\n")
    run_file(f, mode="update")
    assert Contact.objects.get().opted_out_at is not None


class BrokenAfterImport(ContactsEvents):
    """What an app above contacts plugs in through CONTACTS_EVENTS: hears of each batch,
    then fails."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, list[int]]] = []

    def contacts_imported(self, batch: ContactsImported) -> None:
        self.seen.append((batch.contact_import.pk, sorted(batch.contact_ids)))
        raise RuntimeError("a broken follow-up does not stop the import")


def test_contacts_imported_carries_the_batch_and_a_failure_never_stops_the_import(settings):
    settings.CONTACTS_EVENTS = "tests.contacts.test_import_modes.BrokenAfterImport"
    events = contacts_events()  # the instance contacts.imports calls (loaded once)
    events.seen.clear()
    imp = run_file("hubspot_utf8_bom_crlf.csv")
    assert imp.status == "done"
    contacts = sorted(Contact.objects.values_list("id", flat=True))
    assert events.seen == [(imp.pk, contacts)]


def test_cancel_stops_after_the_batch_and_resume_finishes():
    imp = upload("duplicates.csv", default_country="DE")
    contact_import_start(contact_import=imp, mapping=imp.mapping)
    ContactImport.objects.filter(pk=imp.pk).update(status="running")
    contact_import_cancel(contact_import=imp)
    contact_import_run(contact_import_id=imp.pk)  # a cancelling import is not picked up
    imp.refresh_from_db()
    assert (imp.status, imp.records_done) == ("cancelling", 0)
    ContactImport.objects.filter(pk=imp.pk).update(status="cancelled")
    contact_import_resume(contact_import=imp)
    contact_import_run(contact_import_id=imp.pk, batch_size=2)
    imp.refresh_from_db()
    assert (imp.status, imp.records_done, imp.created) == ("done", 4, 2)


def test_rollback_deletes_what_the_import_created_and_nothing_else():
    kept = Contact.objects.create(first_name="Dana")
    Identity.objects.create(contact=kept, channel="email", value="dana@example.com")
    imp = run_file("duplicates.csv")
    assert (imp.created, imp.updated) == (1, 1)
    deleted = contact_import_rollback(contact_import=imp)
    assert deleted == 1
    assert list(Contact.objects.values_list("id", flat=True)) == [kept.pk]
    assert list(kept.identities.values_list("value", flat=True)) == ["dana@example.com"]


def test_resume_after_a_checkpoint_skips_committed_rows():
    imp = upload(FIXTURES / "socials.csv", default_country="DE")
    contact_import_start(contact_import=imp, mapping=imp.mapping)
    ContactImport.objects.filter(pk=imp.pk).update(records_done=1)  # as if batch 1 committed
    contact_import_run(contact_import_id=imp.pk)
    imp.refresh_from_db()
    assert (imp.created, imp.records_done) == (1, 2)
    assert not Path(imp.path).name.startswith("..")
