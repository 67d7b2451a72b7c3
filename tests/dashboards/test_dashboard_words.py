"""The campaign dashboard speaks to the sales team in words: a channel that cannot tell us a
message arrived says so, instead of showing a delivery rate of 0.0%."""

import re

import pytest
from django.utils.html import escape

from campaigns.counters import counters_rebuild
from core import audit as core_audit
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_telegram_step_says_delivery_is_not_reported_instead_of_zero(staff_client):
    campaign = factories.campaign(
        senders=[factories.sender("Bot", channel="telegram")],
        steps=[("email", 0), ("telegram", 0)],
    )
    counters_rebuild()

    page = staff_client.get(f"/campaigns/{campaign.pk}/").content.decode()

    steps = page[page.index('id="table-steps"') :]
    steps = steps[: steps.index("</table>")]
    telegram_row = steps[steps.index("2. ") :]
    assert escape("n/a (not reported by Telegram)") in telegram_row
    assert "0.0%" not in telegram_row[: telegram_row.index("</tr>")]
    # Email does report delivery: its row keeps the counts.
    email_row = steps[steps.index("1. ") : steps.index("2. ")]
    assert "not reported" not in email_row


def test_history_reads_in_sentences_and_why_not_sent_is_headed_once(staff_client):
    campaign = factories.campaign(senders=[factories.sender()])
    core_audit.audit_record(
        actor=staff_client.user, action="campaign.enrol", target=campaign, detail="1 contact(s)"
    )

    page = staff_client.get(f"/campaigns/{campaign.pk}/").content.decode()

    history = page[page.index('id="history"') :]
    history = history[: history.index("</ul>")]
    assert "campaign.enrol" not in history
    assert "boss enrolled contacts (1 contact(s))" in history
    headings = re.findall(r"<h2[^>]*>(.*?)</h2>", page, re.S)
    assert len([h for h in headings if "why not sent" in h.lower()]) == 1, headings
