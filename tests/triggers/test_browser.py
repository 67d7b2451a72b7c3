"""A rep creates a trigger on the dashboard page in a real browser and sees it listed."""

import pytest

from campaigns.triggers.models import Trigger

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_admin_creates_a_keyword_comment_trigger_on_the_dashboard(logged_in_page):
    from core.teams import Team

    team = Team.objects.create(name="North")  # the only team: preselected
    page = logged_in_page
    page.goto("/triggers/")
    page.fill("#id_name", "Price under launch post")
    page.select_option("#id_channel", "instagram")
    page.select_option("#id_event_type", "comment")
    page.fill("#id_post_id", "POST1")
    page.fill("#id_keywords", "price, preis")
    page.fill("#id_reply_body", "Hi {{ first_name }}, here is the price list")
    page.click("#new-trigger button[type=submit]")
    page.wait_for_selector("#triggers >> text=Price under launch post")
    trigger = Trigger.objects.get()
    assert (trigger.team, trigger.channel, trigger.event_type, trigger.post_id) == (
        team,
        "instagram",
        "comment",
        "POST1",
    )
    assert page.locator(f"#trigger-{trigger.pk} td").nth(4).inner_text() == "0"


def test_a_keyword_trigger_without_keywords_is_refused_with_a_message(logged_in_page):
    from core.teams import Team

    Team.objects.create(name="North")
    page = logged_in_page
    page.goto("/triggers/")
    page.fill("#id_name", "Empty")
    page.select_option("#id_channel", "instagram")
    page.select_option("#id_event_type", "dm")
    page.click("#new-trigger button[type=submit]")
    page.wait_for_selector("text=Give at least one keyword")
    assert not Trigger.objects.exists()
