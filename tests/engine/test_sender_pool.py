"""A campaign's senders are its pool: new contacts go to a sender that can send today,
follow-ups stay with the contact's sender, and the dashboard shows what each has left."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.dispatch import enrollments_materialize
from campaigns.models import Enrollment, StepSend
from campaigns.services import campaign_launch, enrollments_create
from outreach import limits
from outreach.models import Message, SenderAccount, SenderProviderCap
from outreach.sending.control import sender_pause
from tests import factories

pytestmark = pytest.mark.django_db


def pool_campaign(*senders, contacts=4, steps=(("email", 0),)):
    campaign = factories.campaign(senders=list(senders), steps=steps)
    people = [factories.contact(n) for n in range(1, contacts + 1)]
    enrollments_create(campaign=campaign, contacts=people)
    campaign_launch(campaign=campaign)
    return campaign


def senders_used() -> list[str]:
    return sorted(m.sender.name for m in Message.objects.select_related("sender"))


def test_a_paused_sender_gets_no_new_contacts_the_rest_of_the_pool_takes_them():
    anna, ben = factories.sender("Anna"), factories.sender("Ben")
    sender_pause(sender=anna, reason="complaints")
    pool_campaign(anna, ben, contacts=6)
    enrollments_materialize(now=timezone.now())
    assert senders_used() == ["Ben"] * 6


def test_a_sender_whose_daily_cap_is_used_up_gets_no_new_contacts():
    anna, ben = factories.sender("Anna", cap=2), factories.sender("Ben")
    today = limits.local_day(anna, timezone.now())
    SenderAccount.objects.filter(id=anna.id).update(sent_today=2, counter_day=today)
    pool_campaign(anna, ben, contacts=6)
    enrollments_materialize(now=timezone.now())
    assert senders_used() == ["Ben"] * 6


def test_a_sender_gets_no_more_new_contacts_than_it_can_send_today():
    anna, ben = factories.sender("Anna", cap=2), factories.sender("Ben", cap=1000)
    pool_campaign(anna, ben, contacts=12)
    enrollments_materialize(now=timezone.now())
    used = senders_used()
    assert used.count("Anna") <= 2 and used.count("Ben") >= 10 and len(used) == 12


def test_a_follow_up_stays_with_the_contacts_sender_even_when_it_is_paused():
    anna, ben = factories.sender("Anna"), factories.sender("Ben")
    pool_campaign(anna, ben, contacts=6, steps=(("email", 0), ("email", 60)))
    enrollments_materialize(now=timezone.now())
    first = {e.id: e.sender_id for e in Enrollment.objects.all()}
    assert set(first.values()) == {anna.id, ben.id}  # both took contacts while both could
    Message.objects.update(status="sent", sent_at=timezone.now())
    Enrollment.objects.update(state="active", current_step=2, next_action_at=timezone.now())
    sender_pause(sender=anna, reason="complaints")
    enrollments_materialize(now=timezone.now() + timedelta(seconds=1))
    step2 = StepSend.objects.filter(step__position=2).select_related("message")
    assert len(step2) == 6
    for send in step2:
        assert send.message.sender_id == first[send.enrollment_id]  # continuity


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("boss", "b@example.com", "pw"))
    return client


def test_the_dashboard_shows_each_senders_capacity_left_today_and_provider_caps(staff_client):
    anna, ben = factories.sender("Anna", cap=40), factories.sender("Ben", cap=30)
    today = limits.local_day(anna, timezone.now())
    SenderAccount.objects.filter(id=anna.id).update(sent_today=15, counter_day=today)
    SenderProviderCap.objects.create(sender=anna, provider="google", per_hour=20)
    sender_pause(sender=ben, reason="bounces")
    campaign = pool_campaign(anna, ben, contacts=1)
    page = staff_client.get(f"/campaigns/{campaign.pk}/").content.decode()
    table = page[page.index('id="table-senders"') :]
    table = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", table[: table.index("</table>")]))
    assert "left today" in table and "provider caps" in table
    assert re.search(r"Anna Email 15 40 25 Google 20/h", table), table
    assert re.search(r"Ben Email 0 30 0 none", table), table
