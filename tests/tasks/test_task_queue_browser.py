"""On a 390 px phone, a rep copies a LinkedIn task's text and marks it sent, in Chromium."""

import pytest
from playwright.sync_api import expect

from outreach.models import Message
from tests.inbox.helpers import rep
from tests.tasks.test_task_queue import DAY, linkedin_campaign, task_of

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_rep_on_a_phone_copies_the_text_and_marks_the_task_sent(chromium, live_server):
    ann = rep("ann")
    task = task_of(linkedin_campaign(ann, steps=(("linkedin", 0), ("email", DAY))))
    context = chromium.new_context(
        base_url=live_server.url,
        viewport={"width": 390, "height": 844},
        permissions=["clipboard-read", "clipboard-write"],
    )
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto("/accounts/login/?next=/tasks/")
        page.fill("#id_username", "ann")
        page.fill("#id_password", "pw-123456-x")
        page.click("button[type=submit]")
        page.wait_for_url("**/tasks/")
        card = page.locator(f"[data-task='{task.pk}']")
        expect(card).to_contain_text("Lead1 Tester")
        expect(card.get_by_role("link", name="Open profile")).to_have_attribute(
            "href", "https://www.linkedin.com/in/lead1_linkedin/"
        )
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        card.get_by_role("button", name="Copy text").click()
        expect(card.get_by_role("button", name="Copied")).to_be_visible()
        assert page.evaluate("navigator.clipboard.readText()") == "Hi Lead1 (step 1)"
        card.get_by_role("button", name="Mark sent").click()
        expect(page.locator("#no-tasks")).to_be_visible()
        expect(card).to_have_count(0)
        assert Message.objects.get(id=task.message_id).status == "sent"
    finally:
        context.close()
