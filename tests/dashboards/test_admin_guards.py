"""The admin keeps a launched campaign's sequence and an enrollment's campaign and contact,
keeps the kill switch from being deleted, says how many rows a bulk action changed, and
words enrollment state without field names."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages

from campaigns.models import Campaign, Enrollment, Sequence
from outreach.models import SenderAccount, SendingSwitch
from outreach.sending.control import sending_switch_set
from tests import factories
from tests.dashboards.conftest import build_campaign

pytestmark = pytest.mark.django_db
E = Enrollment.State


def _said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_a_launched_campaigns_sequence_cannot_be_changed_in_the_admin(staff_client):
    campaign = build_campaign()
    other = Sequence.objects.create(name="Other")
    page = staff_client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/")
    assert 'name="sequence"' not in page.content.decode()
    staff_client.post(
        f"/admin/campaigns/campaign/{campaign.pk}/change/",
        {"name": campaign.name, "sequence": other.pk, "senders": [], "owner": ""},
    )
    campaign.refresh_from_db()
    assert campaign.sequence != other


def test_a_drafts_sequence_can_still_be_chosen_in_the_admin(staff_client):
    draft = factories.campaign(senders=[factories.sender()], name="Draft")
    page = staff_client.get(f"/admin/campaigns/campaign/{draft.pk}/change/")
    assert 'name="sequence"' in page.content.decode()


def test_an_enrollment_cannot_be_moved_to_another_campaign_or_contact(staff_client):
    campaign = build_campaign()
    enrollment = Enrollment.objects.filter(campaign=campaign).first()
    html = staff_client.get(f"/admin/campaigns/enrollment/{enrollment.pk}/change/").content
    assert b'name="campaign"' not in html and b'name="contact"' not in html
    assert b'name="campaign"' in staff_client.get("/admin/campaigns/enrollment/add/").content


def test_the_kill_switch_cannot_be_deleted_in_the_admin(staff_client):
    sending_switch_set(paused=True, reason="incident")
    url = "/admin/outreach/sendingswitch/1/delete/"
    assert staff_client.post(url, {"post": "yes"}).status_code == 403
    assert SendingSwitch.is_paused()


def test_bulk_pause_says_how_many_changed_and_how_many_were_skipped(staff_client):
    campaign = build_campaign()
    ids = list(Enrollment.objects.filter(campaign=campaign).values_list("id", flat=True))
    response = staff_client.post(
        "/admin/campaigns/enrollment/",
        {"action": "pause", "confirm": "1", ACTION_CHECKBOX_NAME: ids},
        follow=True,
    )
    assert "8 enrollments paused. 2 skipped" in " ".join(_said(response))
    response = staff_client.post(
        "/admin/campaigns/campaign/",
        {"action": "resume", "confirm": "1", ACTION_CHECKBOX_NAME: [campaign.pk]},
        follow=True,
    )
    assert "0 campaigns resumed. 1 skipped" in " ".join(_said(response))
    paused = factories.sender("Paused", paused=True)
    response = staff_client.post(
        "/admin/outreach/senderaccount/",
        {
            "action": "pause",
            "confirm": "1",
            "reason": "x",
            ACTION_CHECKBOX_NAME: [paused.pk, campaign.senders.get().pk],
        },
        follow=True,
    )
    assert "1 sender paused. 1 skipped" in " ".join(_said(response))
    assert SenderAccount.objects.filter(paused=True).count() == 2
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.RUNNING


def test_enrollment_list_says_what_each_enrollment_waits_for(staff_client):
    campaign = build_campaign()
    waiting = Enrollment.objects.filter(campaign=campaign, state=E.WAITING).first()
    html = staff_client.get("/admin/campaigns/enrollment/").content.decode()
    assert "next_action_at" not in html
    assert f"waiting for step {waiting.current_step} to be sent" in html
    active = Enrollment.objects.filter(campaign=campaign, state=E.WAITING)
    active.update(state=E.ACTIVE, next_action_at="2026-03-02T12:00:00Z")
    html = staff_client.get("/admin/campaigns/enrollment/").content.decode()
    assert "due Mon 02 Mar 2026" in html
    from django.conf import settings

    assert settings.TIME_ZONE in html
