"""A rep builds a three-step, two-channel sequence with a template written on the spot,
moves a step with the keyboard, saves, and launches a campaign on it through the campaign
builder, on a desktop and on a 390 px phone, in Chromium."""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from campaigns.models import Campaign, Sequence, Step, Template
from contacts.models import Tag
from tests import factories
from tests.browser import ARTEFACTS, fits, logged_in_at
from tests.inbox.helpers import rep

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("width", [1440, 390])
def test_a_rep_builds_a_sequence_and_launches_a_campaign_on_it(chromium, live_server, width):
    ann = rep("ann")
    email = factories.sender("Anna", channel="email", owner=ann)
    telegram = factories.sender("AnnaBot", channel="telegram", owner=ann)
    tag = Tag.objects.create(name="Spring fair")
    for n in (1, 2):
        factories.contact(n, channels=("email", "telegram"), owner=ann).tags.add(tag)
    Template.objects.create(name="Nudge", channel="telegram", body="Ping {{ first_name }}")
    Template.objects.create(name="Last call", channel="email", subject="Still?", body="Bye")
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    with logged_in_at(chromium, live_server, "/campaigns/new/", width=width) as page:
        page.get_by_role("link", name="Build a new sequence").click()
        page.wait_for_url("**/sequences/new/?for=campaign")

        page.fill("#id_name", "Spring launch")
        first = page.locator(".step-card[data-key=s1]")
        first.get_by_label("Subject", exact=True).fill("Hello {{ first_name }}")
        first.get_by_label("Message", exact=True).fill("Hi {{ first_name }}, see you at the fair?")
        expect(page.locator("#s1-preview .preview-text")).to_contain_text("Hi Lead2, see you")

        page.get_by_role("button", name="+ Add step").click()
        second = page.locator(".step-card[data-key=s2]")
        second.get_by_label("Wait").fill("2")
        second.get_by_label("Unit").select_option("days")
        second.get_by_label("Template", exact=True).select_option(label="Last call")
        expect(second.locator(".new-template")).to_be_hidden()

        page.get_by_role("button", name="+ Add step").click()
        third = page.locator(".step-card[data-key=s3]")
        third.locator("label", has_text="Telegram").click()
        expect(third.locator("input[value=telegram]")).to_be_checked()
        third.get_by_label("Wait").fill("3")
        third.get_by_label("Unit").select_option("hours")
        third.get_by_label("Template", exact=True).select_option(label="Nudge")
        # The page kept what was typed across the two round trips.
        expect(first.get_by_label("Message", exact=True)).to_have_value(
            "Hi {{ first_name }}, see you at the fair?"
        )

        # The Telegram nudge goes before the last call: keyboard, no mouse.
        third.get_by_role("button", name="Move this step up").focus()
        page.keyboard.press("Enter")
        cards = page.locator(".step-card")
        expect(cards.nth(1)).to_have_attribute("data-key", "s3")
        expect(cards.nth(1).locator(".step-number")).to_have_text("2")
        expect(cards.nth(1).locator(".delay-words")).to_have_text("after 3 hours")
        expect(page.locator("#order-status")).to_have_text("Step moved to position 2.")
        expect(third.get_by_role("button", name="Move this step up")).to_be_focused()
        assert fits(page)
        page.screenshot(path=str(ARTEFACTS / f"builder_{width}.png"), full_page=True)

        page.get_by_role("button", name="Save and use it").click()
        page.wait_for_url("**/campaigns/new/?sequence=*")
        expect(page.locator("#id_sequence option:checked")).to_have_text("Spring launch")
        page.fill("#id_name", "Spring fair follow-up")
        page.check(f"input[name=senders][value='{email.pk}']")
        page.check(f"input[name=senders][value='{telegram.pk}']")
        page.click("input[type=submit]")
        page.wait_for_url("**/build/audience/")
        page.check(f"input[name=tags][value='{tag.pk}']")
        page.click("input[type=submit]")
        page.wait_for_url("**/build/review/")
        expect(page.locator("#preview-text")).to_contain_text("see you at the fair?")
        assert fits(page)
        if page.locator("#id_confirm_warnings").count():
            page.check("#id_confirm_warnings")
        page.click("input[type=submit]")
        page.wait_for_url("**/campaigns/*/")

    campaign = Campaign.objects.get(name="Spring fair follow-up")
    assert campaign.status == Campaign.Status.RUNNING
    assert campaign.enrollments.count() == 2
    steps = list(campaign.sequence.steps.select_related("template").order_by("position"))
    assert [(s.position, s.channel, s.template.name) for s in steps] == [
        (1, "email", "Spring launch · step 1"),
        (2, "telegram", "Nudge"),
        (3, "email", "Last call"),
    ]
    assert [s.delay for s in steps] == [timedelta(0), timedelta(hours=3), timedelta(days=2)]
    assert steps[0].template.subject == "Hello {{ first_name }}"


def test_a_rep_drags_the_last_step_to_the_top_and_saves(chromium, live_server):
    ann = rep("ann")
    nudge = Template.objects.create(name="Nudge", channel="telegram", body="Ping")
    sequence = Sequence.objects.create(name="Drag me", created_by=ann)
    for n, channel in enumerate(("email", "telegram", "email"), start=1):
        Step.objects.create(
            sequence=sequence, position=n, channel=channel, template=nudge, delay=timedelta(hours=n)
        )
    ids = list(sequence.steps.order_by("position").values_list("id", flat=True))
    with logged_in_at(chromium, live_server, f"/sequences/{sequence.pk}/", height=1800) as page:
        start = page.locator(".step-card[data-key=s3] .drag-handle").bounding_box()
        end = page.locator(".step-card[data-key=s1]").bounding_box()
        assert start and end
        page.mouse.move(start["x"] + 5, start["y"] + 5)
        page.mouse.down()
        page.mouse.move(start["x"] + 5, start["y"] - 20, steps=5)
        page.mouse.move(end["x"] + 20, end["y"] + 10, steps=20)
        page.mouse.up()
        expect(page.locator(".step-card").first).to_have_attribute("data-key", "s3")
        expect(page.locator(".step-card").first.locator(".step-number")).to_have_text("1")
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.get_by_role("alert")).to_have_text("“Drag me” saved.")
    order = list(sequence.steps.order_by("position").values_list("id", "delay"))
    assert order == [
        (ids[2], timedelta(hours=3)),
        (ids[0], timedelta(hours=1)),
        (ids[1], timedelta(hours=2)),
    ]
