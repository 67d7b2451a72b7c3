"""In Chromium, on a desktop and a phone: a rep reads a contact's messages from two channels
in one thread, inserts a saved reply rendered for the contact, switches channel and sends."""

import pytest
from playwright.sync_api import expect

from outreach.inbox.models import SavedReply
from outreach.models import Conversation, Message
from tests import factories
from tests.browser import ARTEFACTS, logged_in_at
from tests.inbox.helpers import rep, reply_from

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("width", [1440, 390])
def test_a_rep_answers_a_contact_on_another_channel_with_a_saved_reply(
    chromium, live_server, width
):
    ann = rep("ann")
    email = factories.sender("Mail", channel="email")
    telegram = factories.sender("Bot", channel="telegram")
    contact = factories.contact(1, channels=("email", "telegram"), owner=ann, first_name="Ines")
    reply_from(contact, email, "The brief is attached to my mail")
    reply_from(contact, telegram, "Also pinging you on Telegram")
    saved = SavedReply.objects.create(
        name="Thanks for the brief",
        body='Thanks {{ first_name|default:"there" }}, {{ company|default:"your team" }} is in.',
    )
    mail_convo = Conversation.objects.get(sender=email)
    tg_convo = Conversation.objects.get(sender=telegram)

    with logged_in_at(chromium, live_server, "/inbox/", width=width) as page:
        page.goto(f"/inbox/{mail_convo.pk}/")

        # Both channels' messages in one thread, each with its channel's badge.
        mail = page.locator(".message[data-channel=email]", has_text="brief is attached")
        tg = page.locator(".message[data-channel=telegram]", has_text="pinging you on Telegram")
        expect(mail.locator(".channel-badge")).to_have_text("Email")
        expect(tg.locator(".channel-badge")).to_have_text("Telegram")
        # The reply goes by default where the contact last wrote: Telegram.
        expect(page.locator("#id_reply_to")).to_have_value(f"c{tg_convo.pk}")

        page.select_option("#id_saved_reply", str(saved.pk))
        expect(page.locator("#id_reply_body")).to_have_value("Thanks Ines, your team is in.")
        page.select_option("#id_reply_to", f"c{mail_convo.pk}")
        page.fill("#id_reply_body", page.input_value("#id_reply_body") + " Talk soon.")

        assert page.evaluate("document.documentElement.scrollWidth") <= width
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTEFACTS / f"inbox_thread_{width}.png"), full_page=True)

        page.get_by_role("button", name="Send reply").click()
        page.get_by_text("Reply queued").wait_for()
        ours = page.locator(".message[data-direction=out]", has_text="your team is in. Talk soon.")
        expect(ours.locator(".channel-badge")).to_have_text("Email")
        assert page.evaluate("document.documentElement.scrollWidth") <= width

    sent = Message.objects.get(direction="out")
    assert (sent.conversation, sent.channel, sent.body) == (
        mail_convo,
        "email",
        "Thanks Ines, your team is in. Talk soon.",
    )
    assert sent.human_written and sent.author == ann
