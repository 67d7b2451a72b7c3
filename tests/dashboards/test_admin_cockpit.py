"""The admin as the operations cockpit: counts without N+1, bulk actions behind a page that
says how many rows will change, the kill switch and sender pause, and the audit trail."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.models import Enrollment
from core.audit import AuditEntry
from outreach.models import Message, SenderAccount
from outreach.sending.control import sending_switch_set
from outreach.sending.deliver import message_send
from outreach.sending.offer import messages_offer
from tests import factories
from tests.dashboards.conftest import build_campaign

pytestmark = pytest.mark.django_db
E = Enrollment.State


def _count(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx)


@pytest.mark.parametrize(
    "url",
    [
        "/admin/campaigns/campaign/",
        "/admin/campaigns/enrollment/",
        "/admin/outreach/senderaccount/",
        "/admin/core/auditentry/",
    ],
)
def test_admin_changelists_take_the_same_queries_for_more_rows(staff_client, url):
    build_campaign("One", contacts=2)
    few = _count(staff_client, url)
    build_campaign("Two", contacts=6, senders=2)
    build_campaign("Three", contacts=6, senders=2)
    assert _count(staff_client, url) == few


def test_bulk_pause_shows_how_many_enrollments_will_change_then_pauses_them(staff_client):
    campaign = build_campaign()
    replied = Enrollment.objects.filter(campaign=campaign, state=E.REPLIED)
    ids = list(Enrollment.objects.filter(campaign=campaign).values_list("id", flat=True))
    page = staff_client.post(
        "/admin/campaigns/enrollment/", {"action": "pause", ACTION_CHECKBOX_NAME: ids}
    )
    html = page.content.decode()
    assert '<strong data-testid="will-change">8</strong> of 10' in html  # 2 replied: unchanged
    assert Enrollment.objects.filter(state=E.PAUSED).count() == 0  # nothing changed yet
    staff_client.post(
        "/admin/campaigns/enrollment/",
        {"action": "pause", "confirm": "1", ACTION_CHECKBOX_NAME: ids},
    )
    assert Enrollment.objects.filter(campaign=campaign, state=E.PAUSED).count() == 8
    assert replied.count() == 2
    assert (
        AuditEntry.objects.filter(action="enrollment.pause", actor=staff_client.user).count() == 8
    )


def test_unenrol_cancels_unsent_messages_after_confirmation(staff_client):
    campaign = build_campaign()
    ids = list(Enrollment.objects.filter(campaign=campaign).values_list("id", flat=True))
    page = staff_client.post(
        "/admin/campaigns/enrollment/", {"action": "unenrol", ACTION_CHECKBOX_NAME: ids}
    )
    assert '<strong data-testid="will-change">8</strong>' in page.content.decode()
    staff_client.post(
        "/admin/campaigns/enrollment/",
        {"action": "unenrol", "confirm": "1", ACTION_CHECKBOX_NAME: ids},
    )
    assert Enrollment.objects.filter(campaign=campaign, state=E.STOPPED).count() == 8
    assert Message.objects.filter(status=Message.Status.QUEUED).count() == 0
    assert AuditEntry.objects.get(action="enrollment.unenrol").detail == "8 enrollment(s)"


def test_opt_out_from_the_contact_list_confirms_then_stops_sequences(staff_client):
    campaign = build_campaign()
    contact_ids = list(
        Enrollment.objects.filter(campaign=campaign, state=E.WAITING).values_list(
            "contact_id", flat=True
        )[:3]
    )
    page = staff_client.post(
        "/admin/contacts/contact/", {"action": "opt_out", ACTION_CHECKBOX_NAME: contact_ids}
    )
    assert '<strong data-testid="will-change">3</strong>' in page.content.decode()
    staff_client.post(
        "/admin/contacts/contact/",
        {"action": "opt_out", "confirm": "1", ACTION_CHECKBOX_NAME: contact_ids},
    )
    stopped = Enrollment.objects.filter(contact_id__in=contact_ids, state=E.STOPPED)
    assert stopped.count() == 3


def test_move_stage_counts_only_deals_that_change(staff_client):
    from pipelines.models import Deal, Stage

    campaign = build_campaign()
    deal = Deal.objects.get(campaign=campaign)
    other = Stage.objects.create(pipeline=deal.pipeline, name="Meeting", position=2)
    url = "/admin/pipelines/deal/"
    page = staff_client.post(
        url,
        {"action": "move_stage", "confirm": "1", "stage": "", ACTION_CHECKBOX_NAME: [deal.id]},
    )
    assert page.status_code == 200 and "This field is required" in page.content.decode()
    staff_client.post(
        url,
        {
            "action": "move_stage",
            "confirm": "1",
            "stage": other.id,
            ACTION_CHECKBOX_NAME: [deal.id],
        },
    )
    deal.refresh_from_db()
    assert deal.stage == other
    assert deal.history.get().to_stage == other


def test_kill_switch_stops_claims_and_is_audited(staff_client):
    contact = factories.contact(1)
    sender = factories.sender()
    campaign = factories.campaign(senders=[sender])
    from django.utils import timezone

    from campaigns.dispatch import enrollments_materialize
    from campaigns.services import campaign_launch, enrollments_create

    enrollments_create(campaign=campaign, contacts=[contact])
    campaign_launch(campaign=campaign, actor=staff_client.user)
    enrollments_materialize(now=timezone.now())
    message = Message.objects.get()
    staff_client.post(
        "/admin/outreach/sendingswitch/add/", {"paused": "on", "reason": "incident 42"}
    )
    assert messages_offer() == []
    assert message_send(message_id=message.id) == "skipped"
    message.refresh_from_db()
    assert message.status == Message.Status.QUEUED
    assert "kill switch" in message.hold_reason
    entry = AuditEntry.objects.get(action="sending.stop")
    assert (entry.actor, entry.detail) == (staff_client.user, "incident 42")
    sending_switch_set(paused=False, actor=staff_client.user)
    assert message_send(message_id=message.id) == Message.Status.SENT
    assert AuditEntry.objects.filter(action="campaign.launch", target_id=campaign.id).exists()


def test_sender_pause_in_the_admin_confirms_and_records_who_and_why(staff_client):
    sender = factories.sender("Anna")
    url = "/admin/outreach/senderaccount/"
    page = staff_client.post(url, {"action": "pause", ACTION_CHECKBOX_NAME: [sender.id]})
    assert '<strong data-testid="will-change">1</strong>' in page.content.decode()
    staff_client.post(
        url,
        {
            "action": "pause",
            "confirm": "1",
            "reason": "warming down",
            ACTION_CHECKBOX_NAME: [sender.id],
        },
    )
    sender.refresh_from_db()
    assert sender.paused and sender.paused_reason == "warming down"
    entry = AuditEntry.objects.get(action="sender.pause")
    assert (entry.actor, entry.target_id, entry.detail) == (
        staff_client.user,
        sender.id,
        "warming down",
    )
    assert SenderAccount.objects.filter(paused=True).count() == 1
