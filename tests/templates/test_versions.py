"""Template versions: an edit of a running campaign's template is a new version, messages
already rendered keep their text and say which version they came from, drafts do not pile up
versions, and step changes of a running campaign reach its history."""

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.campaign import campaign_dashboard
from campaigns.dispatch import enrollments_materialize
from campaigns.models import Step, StepSend, Template, TemplateVariant, TemplateVersion
from campaigns.services import campaign_launch, enrollments_create
from campaigns.versions import (
    current_version,
    current_versions,
    sequence_changes_record,
    steps_state,
    template_version_record,
)
from core.audit import AuditEntry
from outreach.models import Message
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("boss", "boss@example.com", "pw-123456")
    client.force_login(user)
    client.user = user
    return client


def _running(contacts, **kwargs):
    campaign = factories.campaign(senders=[factories.sender()], **kwargs)
    enrollments_create(campaign=campaign, contacts=contacts)
    campaign_launch(campaign=campaign, confirm_warnings=True)
    return campaign, Template.objects.get(steps__sequence=campaign.sequence, steps__position=1)


def _edit(client, template, **changes):
    """Save through the template editor (/templates/<id>/), as a rep does."""
    data = {"name": template.name, "channel": template.channel, "subject": template.subject}
    data |= {"body": template.body, **changes}
    response = client.post(f"/templates/{template.pk}/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    template.refresh_from_db()
    return response


def _sends(contact_ids):
    return StepSend.objects.filter(enrollment__contact_id__in=contact_ids).select_related(
        "message", "template_version"
    )


def test_editing_a_running_campaigns_template_makes_v2_and_earlier_messages_keep_v1(
    staff_client,
):
    early = [factories.contact(n) for n in (1, 2)]
    campaign, template = _running(early)
    enrollments_materialize(now=timezone.now())

    _edit(staff_client, template, body="Hello {{ first_name }}, version two")
    late = [factories.contact(n) for n in (3, 4)]
    enrollments_create(campaign=campaign, contacts=late)
    enrollments_materialize(now=timezone.now())

    v1, v2 = template.versions.order_by("number")
    assert (v1.number, v2.number) == (1, 2)
    assert v1.body == "Hi {{ first_name }} (step 1)"  # v1 is frozen: it was sent
    assert v2.body == "Hello {{ first_name }}, version two"
    assert v2.created_by == staff_client.user
    for send in _sends([c.id for c in early]):
        assert send.template_version == v1
        assert send.message.body == f"Hi {send.enrollment.contact.first_name} (step 1)"
    for send in _sends([c.id for c in late]):
        assert send.template_version == v2
        assert send.message.body == f"Hello {send.enrollment.contact.first_name}, version two"
    # The dashboard's history says so.
    history = [a.detail for a in campaign_dashboard(campaign=campaign).history]
    assert f"“{template.name}” is now v2 (body changed)" in history


def test_the_rep_sees_which_version_each_message_used(staff_client):
    contact = factories.contact(1)
    campaign, template = _running([contact])
    enrollments_materialize(now=timezone.now())
    _edit(staff_client, template, body="Second text {{ first_name }}")
    first = Message.objects.get(direction="out")

    # Inbox: the message says which template version it was rendered from.
    page = staff_client.get(f"/inbox/{first.conversation_id}/").content.decode()
    assert f"template “{template.name}” v1" in page
    thread = staff_client.get(f"/inbox/{first.conversation_id}/thread/").content.decode()
    assert f"template “{template.name}” v1" in thread
    # Message admin: list and detail.
    listing = staff_client.get("/admin/outreach/message/").content.decode()
    assert f"{template.name} v1" in listing
    detail = staff_client.get(f"/admin/outreach/message/{first.pk}/change/").content.decode()
    assert f"{template.name} v1" in detail
    # Campaign dashboard: the held message's row names v1 (it was rendered before the edit).
    [held] = campaign_dashboard(campaign=campaign).held
    assert held.version == "v1"
    # Template admin: every version, read-only, with what changed.
    admin = staff_client.get(f"/admin/campaigns/template/{template.pk}/change/").content.decode()
    assert "Versions (newest first" in admin
    assert "-Hi {{ first_name }} (step 1)" in admin
    assert "+Second text {{ first_name }}" in admin


def test_editing_a_draft_rewrites_v1_instead_of_piling_up_versions(staff_client):
    campaign = factories.campaign(senders=[factories.sender()])
    template = Template.objects.get(steps__sequence=campaign.sequence)
    for n in range(3):
        _edit(staff_client, template, body=f"Draft {n} {{{{ first_name }}}}")
    [version] = template.versions.all()
    assert version.number == 1
    assert version.body == "Draft 2 {{ first_name }}"
    assert not AuditEntry.objects.filter(action="template.version").exists()


def test_launch_records_v1_of_every_template_of_the_sequence():
    campaign, _ = _running([factories.contact(1)], steps=(("email", 0), ("email", 60)))
    versions = TemplateVersion.objects.filter(template__steps__sequence=campaign.sequence)
    assert sorted((v.template.name, v.number) for v in versions) == [
        (f"{campaign.name} step 1", 1),
        (f"{campaign.name} step 2", 1),
    ]


def test_saving_without_a_change_to_what_is_sent_keeps_the_version(staff_client):
    campaign, template = _running([factories.contact(1)])
    _edit(staff_client, template)
    _edit(staff_client, template, name="Renamed intro")  # the name is not sent
    assert list(template.versions.values_list("number", flat=True)) == [1]


def test_a_version_a_message_used_stays_frozen_after_its_template_left_the_campaign(
    staff_client,
):
    contact = factories.contact(1)
    campaign, template = _running([contact])
    enrollments_materialize(now=timezone.now())
    other = Template.objects.create(name="Other", channel="email", body="Other body")
    Step.objects.filter(sequence=campaign.sequence).update(template=other)
    _edit(staff_client, template, body="Changed after it was sent")
    assert list(template.versions.values_list("number", flat=True)) == [2, 1]
    assert StepSend.objects.get().template_version.body == "Hi {{ first_name }} (step 1)"


def test_a_change_made_around_the_editor_is_versioned_before_the_next_send():
    """A shell or data fix that saves the row directly: the dispatcher records the version
    itself, so what it renders and what the message says it used always agree."""
    contact_a, contact_b = factories.contact(1), factories.contact(2)
    campaign, template = _running([contact_a])
    enrollments_materialize(now=timezone.now())
    Template.objects.filter(pk=template.pk).update(subject="New subject")
    TemplateVariant.objects.create(template=template, label="A", subject="Var", body="Variant A")
    enrollments_create(campaign=campaign, contacts=[contact_b])
    enrollments_materialize(now=timezone.now())

    send = _sends([contact_b.id]).get()
    assert send.template_version.number == 2
    assert send.template_version.created_by is None  # recorded by the dispatcher
    assert send.template_version.variants[0]["body"] == "Variant A"
    assert (send.message.subject, send.message.body) == ("Var", "Variant A")
    assert current_version(template) == send.template_version


def test_a_variant_edit_on_a_running_campaign_is_a_new_version():
    campaign, template = _running([factories.contact(1)])
    assert current_version(template).number == 1
    variant = TemplateVariant.objects.create(template=template, label="A", body="A one")
    assert template_version_record(template=template).number == 2  # variant added
    variant.body = "A two"
    variant.save()
    version = template_version_record(template=template)
    assert version.number == 3
    assert version.text_for(variant) == ("", "A two")
    assert TemplateVersion.objects.get(template=template, number=2).text_for(variant) == (
        "",
        "A one",
    )


def test_step_changes_of_a_running_campaign_go_to_its_history():
    campaign, template = _running([factories.contact(1)], steps=(("email", 0), ("email", 60)))
    step = Step.objects.get(sequence=campaign.sequence, position=2)
    other = Template.objects.create(name="Break-up email", channel="email", body="Bye")
    before = steps_state(sequence=campaign.sequence)
    step.template, step.delay = other, timedelta(days=3)
    step.save()
    Step.objects.filter(sequence=campaign.sequence, position=1).delete()

    changes = sequence_changes_record(sequence=campaign.sequence, before=before)

    assert changes == [
        "step 1 removed",
        f"step 2: template “{campaign.name} step 2” → “Break-up email”; delay 0:01:00 → 3 days, "
        "0:00:00",
    ]
    history = [a.detail for a in campaign_dashboard(campaign=campaign).history]
    assert set(changes) <= set(history)


def test_step_changes_of_a_draft_are_not_recorded():
    campaign = factories.campaign(senders=[factories.sender()])
    before = steps_state(sequence=campaign.sequence)
    Step.objects.filter(sequence=campaign.sequence).update(delay=timedelta(days=1))
    assert sequence_changes_record(sequence=campaign.sequence, before=before) == []
    assert not AuditEntry.objects.filter(action="campaign.step_change").exists()


def test_the_sequence_admin_records_a_step_change_on_a_running_campaign(staff_client):
    campaign, template = _running([factories.contact(1)])
    step = Step.objects.get(sequence=campaign.sequence)
    url = f"/admin/campaigns/sequence/{campaign.sequence_id}/change/"
    data = {
        "name": campaign.sequence.name,
        "description": "",
        "steps-TOTAL_FORMS": "1",
        "steps-INITIAL_FORMS": "1",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
        "steps-0-id": str(step.id),
        "steps-0-sequence": str(campaign.sequence_id),
        "steps-0-position": "1",
        "steps-0-channel": "email",
        "steps-0-delay": "01:00:00",
        "steps-0-template": str(template.id),
        "steps-0-condition": step.condition,
        "steps-0-on_refused": step.on_refused,
    }
    response = staff_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    entry = AuditEntry.objects.get(action="campaign.step_change")
    assert (entry.target_id, entry.actor) == (campaign.id, staff_client.user)
    assert entry.detail == "step 1: delay 0:00:00 → 1:00:00"


def test_the_template_admin_versions_an_edit_of_a_running_campaigns_template(staff_client):
    campaign, template = _running([factories.contact(1)])
    enrollments_materialize(now=timezone.now())
    url = f"/admin/campaigns/template/{template.pk}/change/"
    data = {
        "name": template.name,
        "channel": "email",
        "subject": "Hello",
        "body": "Admin edit {{ first_name }}",
        "attachments": "[]",
        "ab_winner": "",
        "ab_auto_winner_after": "",
        "variants-TOTAL_FORMS": "1",
        "variants-INITIAL_FORMS": "0",
        "variants-MIN_NUM_FORMS": "0",
        "variants-MAX_NUM_FORMS": "1000",
        "variants-0-label": "B",
        "variants-0-subject": "",
        "variants-0-body": "Variant B {{ first_name }}",
        "variants-0-weight": "1",
        "versions-TOTAL_FORMS": "1",
        "versions-INITIAL_FORMS": "1",
        "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "1000",
        "versions-0-id": str(template.versions.get().id),
        "versions-0-template": str(template.id),
    }
    response = staff_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    latest = template.versions.order_by("-number").first()
    assert latest.number == 2
    assert latest.body == "Admin edit {{ first_name }}"
    assert [v["label"] for v in latest.variants] == ["B"]  # saved with its inline variants
    assert latest.created_by == staff_client.user


def test_the_dispatcher_finds_current_versions_in_two_queries(django_assert_num_queries):
    templates = [
        Template.objects.create(name=f"T{n}", channel="email", body=f"Body {n}") for n in range(5)
    ]
    first = current_versions(templates)
    assert {v.number for v in first.values()} == {1}
    with django_assert_num_queries(2):  # latest versions, variants: nothing to record
        assert current_versions(templates) == first
