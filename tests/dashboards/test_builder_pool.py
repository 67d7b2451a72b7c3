"""Before launch the campaign builder shows where the messages go: in step 1 each sender's
state beside its checkbox, and on the review page each step's senders from the pool with
their cap, sends left today, pause and platform limit, and a step no sender can carry."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from deliverability.models import WhatsAppAccount
from outreach.limits import local_day
from outreach.models import SenderAccount
from outreach.sending.control import sender_pause
from tests import factories
from tests.browser import fits, logged_in_at


def _pool_campaign():
    anna = factories.sender("Anna", channel="email", cap=50)
    SenderAccount.objects.filter(id=anna.id).update(
        sent_today=12, counter_day=local_day(anna, timezone.now())
    )
    ben = factories.sender("Ben", channel="email", cap=40)
    sender_pause(sender=ben, reason="complaint rate 0.4% over 0.3%")
    wa = factories.sender("Shop number", channel="whatsapp", cap=100)
    WhatsAppAccount.objects.create(
        sender=wa, waba_id="1", tier="TIER_250", unique_users_per_day=250
    )
    campaign = factories.campaign(
        senders=[anna, ben, wa],
        steps=[("email", 0), ("whatsapp", 86400), ("telegram", 86400)],
        name="Pool",
    )
    factories.contact(1)
    return campaign, anna, ben, wa


@pytest.mark.django_db
def test_the_review_page_shows_each_steps_senders_with_their_cap_and_state(staff_client):
    campaign, anna, ben, wa = _pool_campaign()
    page = staff_client.get(f"/campaigns/{campaign.pk}/build/review/").content.decode()

    assert "Where the messages go" in page
    assert "Step 1 (Email): from Anna, Ben." in page
    assert "Step 2 (WhatsApp): from Shop number." in page
    assert "Step 3 (Telegram): no Telegram sender in the pool: it cannot send." in page
    rows = {
        s.id: page.split(f'data-sender="{s.id}">', 1)[1].split("</tr>", 1)[0]
        for s in (anna, ben, wa)
    }
    assert "12 / 50" in rows[anna.id] and '<td class="pool-left">38</td>' in rows[anna.id]
    assert "sending" in rows[anna.id]
    assert "paused: complaint rate 0.4% over 0.3%" in rows[ben.id]
    assert '<td class="pool-left">0</td>' in rows[ben.id]
    assert "250 unique users / 24 h" in rows[wa.id]


@pytest.mark.django_db
def test_step_one_lists_each_sender_with_where_it_stands_today(staff_client):
    _, anna, ben, _ = _pool_campaign()
    page = staff_client.get("/campaigns/new/").content.decode()
    assert "Anna (Email): 38 of 50 left today" in page
    assert "Ben (Email): paused (complaint rate 0.4% over 0.3%)" in page


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1440, 390])
def test_the_pool_on_the_review_page_reads_on_a_phone_and_a_desktop(
    chromium, live_server, django_user_model, width
):
    campaign, anna, ben, _ = _pool_campaign()
    django_user_model.objects.create_superuser("boss", "boss@example.com", "pw-123456")
    review = f"/campaigns/{campaign.pk}/build/review/"
    with logged_in_at(
        chromium, live_server, review, username="boss", password="pw-123456", width=width
    ) as page:
        expect(page.get_by_role("heading", name="Where the messages go")).to_be_visible()
        expect(page.locator(".pool-step[data-step='3']")).to_contain_text("cannot send")
        state = page.locator(f".pool-sender[data-sender='{ben.pk}'] .pool-state")
        expect(state).to_have_text("paused: complaint rate 0.4% over 0.3%")
        page.locator("#pool").scroll_into_view_if_needed()
        assert fits(page)
