"""In Chromium, on a desktop and a 390 px phone: a rep makes a step WhatsApp, picks a synced
WABA template and sees its category, language and status and one row per variable, maps them
and saves; the step keeps the mapping."""

import pytest
from playwright.sync_api import expect

from campaigns.models import Sequence
from tests.browser import ARTEFACTS, fits, logged_in_at
from tests.inbox.helpers import rep
from tests.sequences.test_whatsapp_step import waba_template

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("width", [1440, 390])
def test_a_rep_picks_a_whatsapp_template_sees_its_category_and_maps_its_variables(
    chromium, live_server, width
):
    ann = rep("ann")
    template = waba_template(ann, category="MARKETING")
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    with logged_in_at(chromium, live_server, "/sequences/new/", width=width) as page:
        page.fill("#id_name", "Order updates")
        card = page.locator(".step-card[data-key=s1]")
        expect(card.locator(".whatsapp-template")).to_be_hidden()
        card.locator(".channel-buttons label", has_text="WhatsApp").click()
        expect(card.locator(".whatsapp-template")).to_be_visible()

        card.get_by_label("WhatsApp template (synced from Meta)").select_option(str(template.pk))
        # The page comes back with the template's facts and its variables.
        expect(card.locator(".wa-category")).to_have_text("Marketing")
        expect(card.locator(".wa-language")).to_have_text("en_US")
        expect(card.locator(".wa-status")).to_have_text("Approved")
        expect(card.locator(".wa-variable")).to_have_count(3)
        expect(page.locator("#id_name")).to_have_value("Order updates")  # kept what was typed

        card.locator("[name=s1-var_1_source]").select_option("first_name")
        card.locator("[name=s1-var_1_fallback]").fill("there")
        card.locator("[name=s1-var_2_source]").select_option("company")
        card.locator("[name=s1-var_2_fallback]").fill("our shop")
        card.locator("[name=s1-var_3_source]").select_option("text")
        card.locator("[name=s1-var_3_text]").fill("today")
        assert fits(page)
        page.screenshot(path=str(ARTEFACTS / f"whatsapp_step_{width}.png"), full_page=True)
        page.get_by_role("button", name="Save", exact=True).last.click()
        page.wait_for_url("**/sequences/*/")
        expect(page.locator(".step-card[data-key=s1] .wa-category")).to_have_text("Marketing")

    [step] = Sequence.objects.get(name="Order updates").steps.all()
    assert step.whatsapp_template == template
    assert step.whatsapp_variables["3"] == {"source": "text", "text": "today", "fallback": ""}
    assert step.whatsapp_variables["2"]["fallback"] == "our shop"
