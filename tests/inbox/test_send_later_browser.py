"""In Chromium at 390 px and 1440 px: a rep schedules a reply for later in their own time
zone (the browser's), sees it in the thread as scheduled, and cancels it."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from outreach.models import Message
from tests import factories
from tests.browser import ARTEFACTS, logged_in_at
from tests.inbox.helpers import rep, reply_from

pytestmark = pytest.mark.django_db(transaction=True)
TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.mark.parametrize("width", [390, 1440])
def test_a_rep_schedules_a_reply_in_their_zone_sees_it_waiting_and_cancels_it(
    chromium, live_server, width
):
    ann = rep("ann")
    contact = factories.contact(1, owner=ann)
    convo = reply_from(contact, factories.sender("Mail"), "Call me next week").conversation
    with logged_in_at(
        chromium,
        live_server,
        f"/inbox/{convo.pk}/",
        width=width,
        height=844,
        timezone_id="Asia/Tokyo",
    ) as page:
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        box = page.locator("#id_reply_send_at").bounding_box()
        assert box is not None and box["x"] + box["width"] <= width
        tomorrow = (datetime.now(TOKYO) + timedelta(days=1)).replace(hour=9, minute=30)
        page.fill("#id_reply_body", "Monday 9:30 works for me.")
        page.fill("#id_reply_send_at", tomorrow.strftime("%Y-%m-%dT%H:%M"))
        page.get_by_role("button", name="Send reply").click()
        expect(page.get_by_text("Reply scheduled for")).to_be_visible()
        ours = page.locator(".message[data-direction=out]", has_text="Monday 9:30")
        expect(ours.locator(".scheduled")).to_contain_text("scheduled for")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTEFACTS / f"send_later_{width}.png"), full_page=True)
        message = Message.objects.get(conversation=convo, direction="out")
        assert message.not_before == tomorrow.replace(second=0, microsecond=0)
        ours.get_by_role("button", name="cancel").click()
        expect(page.get_by_text("Scheduled reply cancelled")).to_be_visible()
        message.refresh_from_db()
        assert message.status == "cancelled"
