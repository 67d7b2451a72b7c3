"""The figures the overview and a campaign dashboard show, on data whose answers are known,
and how many queries each page takes."""

import csv
import io

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from analytics.campaign import campaign_dashboard
from analytics.overview import campaigns_overview
from campaigns.models import StepSend
from tests.channels.helpers import contact_replies
from tests.dashboards.conftest import build_campaign

pytestmark = pytest.mark.django_db


def test_overview_shows_enrolled_sent_replied_won_and_reply_rate():
    campaign = build_campaign()
    row = next(r for r in campaigns_overview().rows if r.id == campaign.id)
    assert (row.enrolled, row.sent, row.replied, row.won) == (10, 6, 2, 1)
    assert row.reply_rate == pytest.approx(2 / 6)
    assert row.sparkline[-1] + row.sparkline[-2] == 6  # sent an hour ago: today (or yesterday)
    assert row.channels == ["email"]


def test_overview_filters_by_status_and_channel():
    campaign = build_campaign()
    assert [r.id for r in campaigns_overview(status="running").rows] == [campaign.id]
    assert campaigns_overview(status="draft").rows == []
    assert campaigns_overview(channel="telegram").rows == []


def test_dashboard_funnel_steps_and_held_queue_match_the_data():
    campaign = build_campaign()
    d = campaign_dashboard(campaign=campaign)
    funnel = {f.label: f.count for f in d.funnel}
    assert funnel["Enrolled"] == 10
    assert funnel["Contacted"] == 6
    assert funnel["Delivered"] == 3  # 0, 1, 3 (2 bounced)
    assert funnel["Replied"] == 2
    assert funnel["Won"] == 1
    step1 = d.steps[0]
    assert (step1.sent, step1.delivered, step1.replied, step1.bounced) == (6, 3, 2, 1)
    assert step1.waiting == 4  # four messages still queued
    assert d.steps[1].sent == 0
    assert d.held_total == 4 and len(d.held) == 4
    assert all(h.reason for h in d.held)
    assert d.senders[0].cap == 1000


def test_dashboard_tables_export_as_csv(staff_client):
    campaign = build_campaign()
    response = staff_client.get(f"/campaigns/{campaign.pk}/?export=steps")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:4] == ["step", "channel", "waiting", "sent"]
    assert rows[1][3] == "6"
    for name in ("funnel", "variants", "series", "intents", "senders", "held"):
        assert staff_client.get(f"/campaigns/{campaign.pk}/?export={name}").status_code == 200
    assert staff_client.get(f"/campaigns/{campaign.pk}/?export=nope").status_code == 404
    overview = staff_client.get("/?export=campaigns")
    assert b"Spring" in b"".join(overview.streaming_content)


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx)


def test_overview_query_count_does_not_grow_with_campaigns(staff_client):
    build_campaign("A")
    few = _queries(staff_client, "/")
    for name in ("B", "C", "D"):
        build_campaign(name, contacts=3, steps=3)
    assert _queries(staff_client, "/") == few
    assert few <= 12, few  # session + user + 6 selector queries + filter form choices


def test_dashboard_query_count_does_not_grow_with_steps_or_senders(staff_client):
    # Both hold messages (contacts from the seventh on are queued): a campaign with none held
    # makes one query fewer, as it reads no held messages' names.
    small = build_campaign("Small", contacts=7, steps=1, senders=1)
    big = build_campaign("Bigger", contacts=12, steps=4, senders=3)
    n_small = _queries(staff_client, f"/campaigns/{small.pk}/")
    n_big = _queries(staff_client, f"/campaigns/{big.pk}/")
    assert n_small == n_big
    assert n_big <= 20, n_big


def test_root_is_the_overview_for_staff_and_login_for_others(staff_client):
    assert Client().get("/").status_code == 302
    assert "Campaigns" in staff_client.get("/").content.decode()


def test_interested_comes_from_reply_intent_labels_a_rep_correction_wins(client):
    from outreach.inbox.models import MessageIntent

    campaign = build_campaign()
    link = (
        StepSend.objects.filter(enrollment__campaign=campaign, message__sent_at__isnull=False)
        .select_related("message__conversation__identity", "message__sender")
        .first()
    )
    identity, sender = link.message.conversation.identity, link.message.sender
    replies = [
        contact_replies(client, identity.contact, sender, text)
        for text in ("Sounds great, tell me more", "Not for us")
    ]
    MessageIntent.objects.update_or_create(message=replies[0], defaults={"label": "interested"})
    MessageIntent.objects.update_or_create(
        message=replies[1], defaults={"label": "interested", "corrected_label": "not_interested"}
    )
    d = campaign_dashboard(campaign=campaign)
    assert {f.label: f.count for f in d.funnel}["Interested"] == 1
    assert dict(d.intents) == {"interested": 1, "not_interested": 1}
    assert d.steps[0].positive == 1
    row = next(r for r in campaigns_overview().rows if r.id == campaign.id)
    assert row.positive == 1
