"""On a 390 px phone and a 1440 px desktop, a rep copies a LinkedIn task's text and marks it
sent, in Chromium; the sequence's next step is then due its delay after that send."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.formats import date_format
from playwright.sync_api import expect

from outreach.models import Message
from tests.browser import ARTEFACTS, logged_in_at
from tests.inbox.helpers import rep
from tests.tasks.test_task_queue import DAY, linkedin_campaign, task_of

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("width", [390, 1440])
def test_a_rep_copies_the_text_marks_the_task_sent_and_the_next_step_waits_its_delay(
    chromium, live_server, width
):
    ann = rep("ann")
    enrollment = linkedin_campaign(ann, steps=(("linkedin", 0), ("email", DAY)))
    task = task_of(enrollment)
    with logged_in_at(
        chromium,
        live_server,
        "/tasks/",
        width=width,
        height=844,
        permissions=["clipboard-read", "clipboard-write"],
    ) as page:
        card = page.locator(f"[data-task='{task.pk}']")
        expect(card).to_contain_text("Lead1 Tester")
        expect(card.get_by_role("link", name="Open profile")).to_have_attribute(
            "href", "https://www.linkedin.com/in/lead1_linkedin/"
        )
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTEFACTS / f"tasks_{width}.png"), full_page=True)
        card.get_by_role("button", name="Copy text").click()
        expect(card.get_by_role("button", name="Copied")).to_be_visible()
        assert page.evaluate("navigator.clipboard.readText()") == "Hi Lead1 (step 1)"
        card.get_by_role("button", name="Mark sent").click()
        expect(page.locator("#no-tasks")).to_be_visible()
        expect(card).to_have_count(0)
        message = Message.objects.get(id=task.message_id)
        assert message.status == "sent"
        enrollment.refresh_from_db()
        assert (enrollment.state, enrollment.current_step) == ("active", 2)
        assert enrollment.next_action_at == message.sent_at + timedelta(seconds=DAY)
        due = date_format(timezone.localtime(enrollment.next_action_at), "D j M Y, H:i")
        expect(page.get_by_role("alert")).to_have_text(
            f"Marked as sent to Lead1 Tester. Next: step 2 (Email), due {due}."
        )
        assert page.evaluate("document.documentElement.scrollWidth") <= width
