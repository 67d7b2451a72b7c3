"""In the browser (Playwright + Chromium): a rep answers a conversation and the message goes
out through the fake platform; a deal dragged on the board moves and its history says so."""

import json
import time

import pytest

from contacts.models import Identity
from outreach.models import Message
from pipelines.models import Deal, DealStageChange, Pipeline
from tests import factories
from tests.channels.conftest import SECRETS
from tests.channels.helpers import platform_sender
from tests.inbox.helpers import default_pipelines, reply_from
from tests.processes import child_env, dispatcher

pytestmark = [pytest.mark.live_worker]


def test_a_rep_answers_in_the_inbox_and_it_goes_out_through_the_platform(
    logged_in_page, platform_channels, control, fake, worker_factory, log_dir
):
    page = logged_in_page
    default_pipelines()
    instagram = platform_sender("instagram", "IG1")
    contact = factories.contact(7, channels=("instagram",), first_name="Ines")
    Identity.objects.filter(contact=contact).update(platform_user_id="4247")
    control.post("accounts", id="IG1")
    control.post("users", platform="instagram", id="4247", last_inbound=time.time() - 60)
    reply_from(contact, instagram, "Hi! Do you ship to Austria?")

    env = {
        "PLATFORM_BACKENDS": "true",
        "PLATFORM_BASE_URL": fake.url,
        "META_APP_SECRET": SECRETS["meta"],
        "DATABASE_CONN_MAX_AGE": "0",
    }
    worker_factory(**env)
    disp = dispatcher("dispatcher", child_env(**env), log_dir, interval=0.5)
    try:
        page.goto("/inbox/")
        page.get_by_role("link", name="Ines Tester").click()
        page.wait_for_url("**/inbox/*/")
        page.get_by_text("Do you ship to Austria?").wait_for()
        page.fill("textarea[name=body]", "Yes, we ship to Austria within 3 days.")
        page.get_by_role("button", name="Send reply").click()
        page.get_by_text("Reply queued").wait_for()
        # The thread polls every 3 s: the rep's message shows as sent without a reload.
        ours = page.locator(".message[data-direction=out]", has_text="ship to Austria within")
        ours.locator(".status", has_text="sent").wait_for(timeout=30_000)
    finally:
        disp.stop()

    message = Message.objects.get(direction="out")
    assert (message.status, message.human_written) == ("sent", True)
    sent = [json.dumps(r["body"]) for r in control.outbox("instagram")]
    assert len(sent) == 1 and "Yes, we ship to Austria within 3 days." in sent[0]
    assert '"4247"' in sent[0]


def test_a_deal_dragged_to_another_stage_moves_and_its_history_records_it(logged_in_page):
    page = logged_in_page
    default_pipelines()
    sales = Pipeline.objects.get(name="Sales")
    replied, meeting = sales.stages.get(name="Replied"), sales.stages.get(name="Meeting")
    contact = factories.contact(3, first_name="Dora")
    deal = Deal.objects.create(contact=contact, pipeline=sales, stage=replied, value=1200)

    page.goto(f"/pipelines/{sales.pk}/")
    card = page.locator(f".deal-card[data-deal='{deal.pk}']")
    target = page.locator(f".stage-column[data-stage='{meeting.pk}'] .stage-drop")
    with page.expect_navigation():  # the board reloads once the move is saved
        card.drag_to(target)

    change = DealStageChange.objects.get(deal=deal)
    assert (change.from_stage, change.to_stage) == (replied, meeting)
    assert change.changed_by.username == "rep" and change.reason == "moved on the board"
    assert Deal.objects.get(id=deal.id).stage == meeting

    page.reload()
    column = page.locator(f".stage-column[data-stage='{meeting.pk}']")
    moved = column.locator(f".deal-card[data-deal='{deal.pk}']")
    assert moved.inner_text().startswith("Dora Tester")
    assert page.locator(f".stage-column[data-stage='{replied.pk}'] .deal-card").count() == 0
    moved.locator("summary", has_text="History").click()
    assert "Meeting · rep · moved on the board" in moved.locator(".history").inner_text()


def test_choosing_unsubscribe_in_a_thread_asks_before_opting_the_contact_out(logged_in_page):
    page = logged_in_page
    default_pipelines()
    email = factories.sender("Mail", channel="email")
    contact = factories.contact(5, first_name="Uma")
    message = reply_from(contact, email, "Sounds good, can we book a call on Thursday?")
    assert Deal.objects.get(contact=contact).stage.name == "Interested"

    page.goto(f"/inbox/{message.conversation_id}/")
    with page.expect_navigation():  # the dropdown submits on change
        page.locator(f".message[data-message='{message.pk}'] .intent-select").select_option(
            "unsubscribe"
        )
    consequences = page.locator("#intent-consequences")
    consequences.get_by_text("out of every channel").wait_for()
    consequences.get_by_text("from Interested to Lost").wait_for()
    contact.refresh_from_db()
    assert contact.opted_out_at is None  # asked, not done

    page.get_by_role("button", name="Yes, label it Unsubscribe").click()
    page.wait_for_url(f"**/inbox/{message.conversation_id}/")
    contact.refresh_from_db()
    assert contact.opted_out_at is not None
    assert Deal.objects.get(contact=contact).stage.name == "Lost"
