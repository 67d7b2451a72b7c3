"""In the browser (Playwright + Chromium): a rep opening a conversation sees the contact's
edits (and can open the earlier texts, which stay open while the thread refreshes), their
reaction on our message, a message they unsent, the button they chose and the story they
replied to. The events arrive as signed webhooks (tests/inbox/test_platform_event_display.py)."""

from tests.inbox.test_platform_event_display import STORY, a_conversation_with_every_kind_of_event


def test_a_rep_sees_edits_reactions_unsends_choices_and_story_replies(
    logged_in_page, client, platform_channels
):
    conversation = a_conversation_with_every_kind_of_event(client)
    page = logged_in_page
    page.goto(f"/inbox/{conversation.pk}/")

    edited = page.locator(".message", has_text="Tuesday works better, 10:00")
    earlier = edited.get_by_text("Monday works, 9:00")
    assert not earlier.is_visible()
    edited.locator("summary", has_text="edited").click()
    earlier.wait_for(state="visible")
    # The thread is polled and swapped every 3 s: the opened history stays open.
    page.evaluate("document.querySelectorAll('#thread .message').forEach(m => m.dataset.old = 1)")
    page.locator("#thread .message[data-old]").first.wait_for(state="detached", timeout=10_000)
    edited.locator("details.edited").wait_for()
    assert page.locator("details.edited").evaluate("d => d.open")
    assert earlier.is_visible()

    ours = page.locator(".message[data-direction=out]", has_text="Would a demo on Tuesday")
    assert ours.locator(".reaction").inner_text() == "\u2764\ufe0f"
    assert page.locator(".message .unsent").inner_text() == "message removed by the contact"
    assert page.get_by_text("wrong chat").count() == 0
    assert page.locator(".message .choice").inner_text().startswith("chose: Red")
    story = page.locator(".message", has_text="Love this one!")
    assert "replied to your story" in story.locator(".story").inner_text()
    assert story.locator(".story a").get_attribute("href") == STORY
