"""Every admin page a sales team touches renders for staff and is refused to strangers."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.urls import reverse

from campaigns.models import Campaign, Enrollment
from contacts.models import Contact
from outreach.models import InboundEvent, Message, SenderAccount
from pipelines.models import Deal, Pipeline, Stage
from tests import factories

pytestmark = pytest.mark.django_db
MODELS = [
    m
    for m in admin.site._registry
    if m._meta.app_label in {"core", "contacts", "outreach", "webhooks", "pipelines", "campaigns"}
]


@pytest.fixture
def staff_client(client):
    user = User.objects.create_superuser("boss", "boss@example.com", "pw-123456")
    client.force_login(user)
    return client


@pytest.fixture
def one_of_everything(db):
    s = factories.sender()
    camp = factories.campaign(senders=[s], steps=(("email", 0), ("email", 60)))
    c = factories.contact(1)
    Enrollment.objects.create(campaign=camp, contact=c, next_action_at=None)
    pipeline = Pipeline.objects.create(name="Admin test pipeline")
    stage = Stage.objects.create(pipeline=pipeline, name="New", position=1)
    Deal.objects.create(contact=c, pipeline=pipeline, stage=stage)
    InboundEvent.objects.create(provider="telegram", provider_event_id="1", payload={"a": 1})
    from outreach.sending.create import conversations_for, messages_create

    identity = c.identities.get()
    conv = conversations_for({(identity.id, s.id)})[(identity.id, s.id)]
    messages_create(
        [
            Message(
                conversation=conv,
                sender=s,
                channel="email",
                direction="out",
                status="queued",
                body="hi",
            )
        ]
    )
    from outreach.sending.control import sending_switch_set

    sending_switch_set(paused=False)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_admin_pages_render_for_staff(staff_client, one_of_everything, model):
    info = model._meta.app_label, model._meta.model_name
    changelist = staff_client.get(reverse("admin:{}_{}_changelist".format(*info)) + "?q=lead")
    assert changelist.status_code == 200
    obj = model.objects.first()
    if obj is not None:
        change = staff_client.get(reverse("admin:{}_{}_change".format(*info), args=[obj.pk]))
        assert change.status_code == 200
    if admin.site._registry[model].has_add_permission(changelist.wsgi_request):
        # Some add pages hand over to a dashboard page (imports): that page must work.
        add = staff_client.get(reverse("admin:{}_{}_add".format(*info)), follow=True)
        assert add.status_code == 200


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_admin_pages_refuse_anonymous_users(client, model):
    info = model._meta.app_label, model._meta.model_name
    response = client.get(reverse("admin:{}_{}_changelist".format(*info)))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_invalid_sender_limits_get_field_errors_not_a_crash(staff_client):
    response = staff_client.post(
        reverse("admin:outreach_senderaccount_add"),
        {
            "channel": "email",
            "name": "Broken",
            "daily_cap": "-5",
            "warmup_daily_increase": "5",
            "min_gap_seconds": "60",
            "max_gap_seconds": "10",
            "window_start": "09:00",
            "window_end": "17:00",
            "window_days": "0189",
            "time_zone": "Mars/Olympus_Mons",
        },
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert {"daily_cap", "max_gap_seconds", "window_days", "time_zone"} <= set(errors)
    assert not SenderAccount.objects.exists()


def test_contact_with_unknown_time_zone_is_refused_with_a_field_error(staff_client):
    response = staff_client.post(
        reverse("admin:contacts_contact_add"),
        {
            "first_name": "Ada",
            "time_zone": "Europe/Atlantis",
            "custom_fields": "{}",
            "identities-TOTAL_FORMS": "0",
            "identities-INITIAL_FORMS": "0",
            "consent_records-TOTAL_FORMS": "0",
            "consent_records-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "time_zone" in response.context["adminform"].form.errors
    assert not Contact.objects.exists()


def test_sender_credentials_are_never_sent_back_to_the_browser(staff_client):
    s = factories.sender(credentials="EAAG-very-secret-page-token-9876")
    page = staff_client.get(reverse("admin:outreach_senderaccount_change", args=[s.pk]))
    html = page.content.decode()
    assert "very-secret" not in html
    assert "…9876" in html


def test_enrol_action_shows_a_confirmation_with_the_count_then_enrols(staff_client):
    s = factories.sender()
    camp = factories.campaign(senders=[s])
    contacts = [factories.contact(i) for i in range(3)]
    ids = [str(c.pk) for c in contacts]
    url = reverse("admin:contacts_contact_changelist")
    confirm = staff_client.post(url, {"action": "enrol", "_selected_action": ids})
    assert confirm.status_code == 200
    assert "<strong>3</strong> contacts will be enrolled" in confirm.content.decode()
    assert not Enrollment.objects.exists()

    done = staff_client.post(
        url,
        {"action": "enrol", "_selected_action": ids, "confirm": "1", "campaign": camp.pk},
        follow=True,
    )
    assert done.status_code == 200
    assert "3 contacts enrolled" in done.content.decode()
    assert Enrollment.objects.filter(campaign=camp).count() == 3


def test_pause_and_resume_campaign_from_the_admin(staff_client):
    s = factories.sender()
    camp = factories.campaign(senders=[s], steps=(("email", 0), ("email", 3600)))
    camp.status = Campaign.Status.RUNNING
    camp.save()
    url = reverse("admin:campaigns_campaign_changelist")
    asked = staff_client.post(url, {"action": "pause", "_selected_action": [camp.pk]})
    assert 'will-change">1</strong> of 1 selected row' in asked.content.decode()
    camp.refresh_from_db()
    assert camp.status == Campaign.Status.RUNNING
    staff_client.post(url, {"action": "pause", "_selected_action": [camp.pk], "confirm": "yes"})
    camp.refresh_from_db()
    assert camp.status == Campaign.Status.PAUSED
    staff_client.post(url, {"action": "resume", "_selected_action": [camp.pk], "confirm": "yes"})
    camp.refresh_from_db()
    assert camp.status == Campaign.Status.RUNNING
