"""In Chromium: a contact name and an inbound message carrying script payloads render as
inert text in the inbox, the dashboard, the pipeline board, the template preview and the
admin. Each payload would set window.__xss (and open a dialog) if it ever ran."""

import pytest
from playwright.sync_api import expect

from campaigns.models import Campaign, Template
from outreach.models import Conversation
from pipelines.models import Deal, Pipeline, Stage
from tests import factories
from tests.inbox.helpers import reply_from

SCRIPT = "<script>window.__xss=1;alert(1)</script>"
IMG = '<img src=x onerror="window.__xss=2;alert(2)">'
PAYLOAD = SCRIPT + IMG


@pytest.fixture
def hostile(db):
    """Every user-controlled field we show, filled with the payload."""
    sender = factories.sender(f"Sender {IMG}")
    contact = factories.contact(1, first_name=SCRIPT, last_name=IMG, company=PAYLOAD)
    reply_from(contact, sender, f"Re: hi {PAYLOAD}")
    campaign = factories.campaign(senders=[sender], name=f"Camp {PAYLOAD}")
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.RUNNING)
    Template.objects.filter(steps__sequence=campaign.sequence).update(
        body="Hi {{ first_name }} {{ last_name }} from {{ company }}"
    )
    pipeline = Pipeline.objects.create(name=f"Pipe {IMG}")
    stage = Stage.objects.create(pipeline=pipeline, name=f"Stage {SCRIPT}", position=1)
    Deal.objects.create(contact=contact, pipeline=pipeline, stage=stage)
    return {
        "contact": contact,
        "conversation": Conversation.objects.get(identity__contact=contact),
        "campaign": campaign,
        "template": Template.objects.filter(steps__sequence=campaign.sequence).get(),
        "pipeline": pipeline,
    }


def _assert_inert(page, dialogs: list[str], where: str) -> None:
    assert dialogs == [], f"a dialog fired on {where}: {dialogs}"
    assert page.evaluate("typeof window.__xss") == "undefined", where
    injected = page.evaluate(
        """() => ({
            img: document.querySelectorAll('img[onerror]').length,
            script: [...document.scripts].filter(s => s.textContent.includes('__xss')).length,
        })"""
    )
    assert injected == {"img": 0, "script": 0}, where


def test_payloads_render_as_text_everywhere(logged_in_page, hostile):
    page = logged_in_page
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    # Our own pages need nothing the Content-Security-Policy forbids (the payloads are text).
    blocked: list[str] = []
    page.on(
        "console",
        lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None,
    )
    c = hostile

    pages = [
        ("/inbox/", "#inbox-list", SCRIPT),
        (f"/inbox/{c['conversation'].pk}/", ".message .body", PAYLOAD),
        (f"/campaigns/{c['campaign'].pk}/", "h1", PAYLOAD),
        ("/", "main", PAYLOAD),
        (f"/pipelines/{c['pipeline'].pk}/", ".deal-card", SCRIPT),
        (f"/templates/{c['template'].pk}/", ".preview-text", f"Hi {SCRIPT} {IMG} from"),
        ("/admin/contacts/contact/", "#result_list", SCRIPT),
        (f"/admin/contacts/contact/{c['contact'].pk}/change/", "#content", ""),
        ("/admin/outreach/message/", "#result_list", ""),
    ]
    for url, selector, text in pages:
        page.goto(url)
        box = page.locator(selector).first
        box.wait_for()
        if text:
            # Shown escaped: the payload is visible as the characters the contact typed.
            expect(box).to_contain_text(text)
        _assert_inert(page, dialogs, url)

    # The preview's HTML part (the email as it would be sent) is escaped too.
    page.goto(f"/templates/{c['template'].pk}/")
    page.locator(".preview-html").first.wait_for(state="attached")
    assert SCRIPT in page.locator(".preview-html").first.text_content()
    _assert_inert(page, dialogs, "template preview html")
    assert blocked == []
