"""Merging two contacts that are the same person, through the merge preview's form."""

import pytest
from django.test import Client

from campaigns.contact_merge import MergeRefused, contacts_merge
from campaigns.models import Enrollment
from contacts.models import ConsentRecord, Contact, Identity, Tag
from core.audit import AuditEntry
from outreach.models import Conversation, Message
from pipelines.models import Deal, DealStageChange, Stage
from tests import factories
from tests.contacts.contact_world import reached_on_two_channels
from tests.security.teams import PASSWORD


def _client(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_merging_moves_identities_messages_consents_tags_enrolments_and_deals(two_teams):
    ann = two_teams.ann
    keep = factories.contact(31, owner=ann, first_name="Dana", last_name="", company="")
    merge = reached_on_two_channels(ann, n=12)
    merge.tags.add(Tag.objects.create(name="fair"))
    merge.custom_fields = {"seats": 12}
    merge.title = "Buyer"
    merge.save()
    ConsentRecord.objects.create(contact=merge, kind="granted", source="form")
    messages = Message.objects.filter(conversation__identity__contact=merge).count()
    assert messages == 3

    client = _client(ann)
    preview = client.get(f"/contacts/{keep.pk}/merge/{merge.pk}/").content.decode()
    assert "2 identities, with 2 conversations and 3 messages" in preview
    assert "1 enrolment: Spring 12" in preview and "Tags added: fair" in preview
    response = client.post(f"/contacts/{keep.pk}/merge/{merge.pk}/")
    assert response.status_code == 302 and response["Location"] == f"/contacts/{keep.pk}/"

    assert not Contact.objects.filter(pk=merge.pk).exists()
    keep.refresh_from_db()
    assert sorted(keep.identities.values_list("value", flat=True)) == [
        "dana_rivers_12",
        "lead12@example.com",
        "lead31@example.com",
    ]
    assert Message.objects.filter(conversation__identity__contact=keep).count() == messages
    assert keep.consent_records.filter(source="form").exists()
    assert [t.name for t in keep.tags.all()] == ["fair"]
    assert Enrollment.objects.get(contact=keep).campaign.name == "Spring 12"
    assert Deal.objects.get(contact=keep).pipeline.name == "Sales 12"
    assert (keep.last_name, keep.company, keep.title) == ("Rivers", "Acme", "Buyer")
    assert keep.custom_fields == {"seats": 12}
    entry = AuditEntry.objects.get(action="contact.merge")
    assert entry.actor == ann and entry.target_id == keep.pk
    assert f"#{merge.pk}" in entry.detail and f"#{keep.pk}" in entry.detail
    page = client.get(f"/contacts/{keep.pk}/").content.decode()
    assert f"Merged Dana Rivers (Acme) (#{merge.pk}) into Dana (#{keep.pk})." in page
    assert "Yes please, send the price list" in page


def test_merge_is_refused_while_both_are_running_in_the_same_campaign(two_teams):
    ann = two_teams.ann
    camp = two_teams.rows["ann"].campaign
    keep, merge = factories.contact(31, owner=ann), factories.contact(32, owner=ann)
    Enrollment.objects.create(campaign=camp, contact=keep)
    Enrollment.objects.create(campaign=camp, contact=merge, state="paused")
    client = _client(ann)
    preview = client.get(f"/contacts/{keep.pk}/merge/{merge.pk}/").content.decode()
    assert "Both are enrolled in the campaign “Ann Outreach”" in preview
    assert 'id="merge-confirm"' not in preview
    response = client.post(f"/contacts/{keep.pk}/merge/{merge.pk}/", follow=True)
    assert "Ann Outreach" in response.content.decode()
    assert Contact.objects.filter(pk=merge.pk).exists()
    assert Identity.objects.filter(contact=merge).count() == 1
    with pytest.raises(MergeRefused, match="Ann Outreach"):
        contacts_merge(keep=keep, merge=merge, actor=ann)


def test_a_finished_enrolment_gives_way_to_the_running_one_in_the_same_campaign(two_teams):
    ann = two_teams.ann
    camp = two_teams.rows["ann"].campaign
    keep, merge = factories.contact(31, owner=ann), factories.contact(32, owner=ann)
    Enrollment.objects.create(campaign=camp, contact=keep, state="completed")
    running = Enrollment.objects.create(campaign=camp, contact=merge, state="active")
    contacts_merge(keep=keep, merge=merge, actor=ann)
    assert list(Enrollment.objects.filter(campaign=camp, contact=keep)) == [running]


def test_open_deals_in_one_pipeline_fold_into_the_more_advanced_one(two_teams):
    ann, pipeline = two_teams.ann, two_teams.pipeline
    later = Stage.objects.create(pipeline=pipeline, name="Meeting", position=3)
    keep, merge = factories.contact(31, owner=ann), factories.contact(32, owner=ann)
    early = Deal.objects.create(contact=keep, pipeline=pipeline, stage=two_teams.stage)
    DealStageChange.objects.create(deal=early, to_stage=two_teams.stage, reason="first touch")
    advanced = Deal.objects.create(contact=merge, pipeline=pipeline, stage=later, value=500)
    contacts_merge(keep=keep, merge=merge, actor=ann)
    assert list(Deal.objects.filter(contact=keep)) == [advanced]
    assert DealStageChange.objects.get(reason="first touch").deal == advanced


def test_opted_out_on_either_side_stays_opted_out(two_teams):
    ann = two_teams.ann
    keep, merge = factories.contact(31, owner=ann), factories.contact(32, owner=ann)
    Contact.objects.filter(pk=merge.pk).update(opted_out_at="2026-01-02T10:00Z")
    running = Enrollment.objects.create(campaign=two_teams.rows["ann"].campaign, contact=keep)
    contacts_merge(keep=keep, merge=merge, actor=ann)
    keep.refresh_from_db()
    running.refresh_from_db()
    assert keep.opted_out_at is not None and running.state == "stopped"
    assert keep.consent_records.filter(kind="opted_out", source="merge").exists()


def test_another_teams_contact_cannot_be_merged_by_post(two_teams):
    ann_contact = two_teams.rows["ann"].contact
    sid_contact = two_teams.rows["sid"].contact
    ann = _client(two_teams.ann)
    assert ann.post(f"/contacts/{ann_contact.pk}/merge/{sid_contact.pk}/").status_code == 404
    assert ann.get(f"/contacts/{ann_contact.pk}/merge/{sid_contact.pk}/").status_code == 404
    sid = _client(two_teams.sid)
    assert sid.post(f"/contacts/{ann_contact.pk}/merge/{sid_contact.pk}/").status_code == 404
    assert Contact.objects.filter(pk__in=[ann_contact.pk, sid_contact.pk]).count() == 2
    with pytest.raises(MergeRefused):
        contacts_merge(keep=ann_contact, merge=sid_contact, actor=two_teams.ann)
    assert not AuditEntry.objects.filter(action="contact.merge").exists()
    # Their manager sees both of her reps' contacts and may merge them.
    art_contact = two_teams.rows["art"].contact
    nora = _client(two_teams.nora)
    assert nora.post(f"/contacts/{ann_contact.pk}/merge/{art_contact.pk}/").status_code == 302
    assert Conversation.objects.filter(identity__contact=ann_contact).count() == 2


def test_choosing_the_other_contact_finds_it_by_handle_within_the_team(two_teams):
    ann = two_teams.ann
    dana = reached_on_two_channels(ann, n=12)
    twin = factories.contact(33, channels=(), owner=ann, first_name="D.")
    Identity.objects.create(contact=twin, channel="x", value="dana_rivers_12")
    sid_twin = factories.contact(34, channels=(), owner=two_teams.sid, first_name="Sid's")
    Identity.objects.create(contact=sid_twin, channel="telegram", value="dana_rivers_12")
    page = _client(ann).get(f"/contacts/{dana.pk}/merge/", {"q": "@dana_rivers_12"})
    body = page.content.decode()
    assert f"/contacts/{dana.pk}/merge/{twin.pk}/" in body
    assert "same handle dana_rivers_12" in body  # suggested above the search too
    assert f"/merge/{sid_twin.pk}/" not in body and f"/merge/{dana.pk}/" not in body
    assert _client(two_teams.sid).get(f"/contacts/{dana.pk}/merge/").status_code == 404
