"""Pipelines that put every contacted contact in their first stage: a campaign's first
message opens the deal, through the send path's real batches; and a bulk move tells the
deal.stage_changed webhook about every deal it moved."""

from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.dispatch import enrollments_materialize
from campaigns.services import enrollments_create
from outreach.models import Message
from outreach.sending.deliver import messages_send
from pipelines.models import Deal, Pipeline
from tests import factories
from tests.inbox.helpers import rep, reply_from
from webhooks.models import WebhookDelivery, WebhookSubscriber

pytestmark = pytest.mark.django_db


def _send_due(now=None) -> set[str]:
    """What the dispatcher and workers do: materialize due steps, then send what is queued
    in batches until nothing is (a batch claims one message per sender)."""
    enrollments_materialize(now=now or timezone.now(), batch=500)
    statuses: set[str] = set()
    for _ in range(10):
        queued = Message.objects.filter(status=Message.Status.QUEUED, direction="out")
        ids = list(queued.values_list("id", flat=True))
        if not ids:
            break
        statuses |= set(messages_send(message_ids=ids).values()) - {"skipped"}
    return statuses


def _campaign(owner, n: int):
    """A running two-step email campaign for n contacts, with a sender each: a worker's
    batch claims one message per sender."""
    senders = [factories.sender(f"S{i}-{n}") for i in range(n)]
    camp = factories.campaign(senders=senders, steps=(("email", 0), ("email", 3600)))
    camp.owner, camp.status = owner, "running"
    camp.save(update_fields=["owner", "status"])
    contacts = [factories.contact(i) for i in range(1, n + 1)]
    enrollments_create(campaign=camp, contacts=contacts)
    return camp, senders[0], contacts


def test_a_campaigns_first_message_puts_each_contact_in_the_first_stage_once(client):
    ann = rep("ann")
    sales = Pipeline.objects.get(name="Sales")
    Pipeline.objects.filter(pk=sales.pk).update(contacted_in_first_stage=True)
    camp, email, contacts = _campaign(ann, 3)

    assert _send_due() == {"sent"}
    deals = Deal.objects.filter(pipeline=sales).select_related("stage")
    assert sorted(d.contact_id for d in deals) == sorted(c.id for c in contacts)
    assert {(d.stage.name, d.campaign_id, d.owner_id) for d in deals} == {
        ("Contacted", camp.id, ann.id)
    }
    assert {d.history.get().reason for d in deals} == {"contacted by a campaign"}
    # Other pipelines did not ask for it.
    assert not Deal.objects.exclude(pipeline=sales).exists()

    # The second step adds nothing; a reply moves the same deal on.
    assert _send_due(timezone.now() + timedelta(hours=2)) == {"sent"}
    assert Deal.objects.count() == 3
    reply_from(contacts[0], email, "Sounds interesting, tell me more")
    assert Deal.objects.count() == 3
    assert Deal.objects.get(contact=contacts[0]).stage.name != "Contacted"

    # The board shows them.
    client.force_login(ann)
    page = client.get(f"/pipelines/{sales.pk}/").content.decode()
    assert all(str(c) in page for c in contacts)


def test_without_the_option_a_send_opens_no_deal():
    camp, email, contacts = _campaign(rep("ann"), 2)
    assert _send_due() == {"sent"}
    assert not Deal.objects.exists()


def test_a_contact_whose_deal_was_lost_is_not_put_back_in_the_first_stage():
    sales = Pipeline.objects.get(name="Sales")
    Pipeline.objects.filter(pk=sales.pk).update(contacted_in_first_stage=True)
    camp, email, (lost_one, new_one) = _campaign(rep("ann"), 2)
    Deal.objects.create(contact=lost_one, pipeline=sales, stage=sales.stages.get(name="Lost"))
    _send_due()
    assert Deal.objects.get(contact=lost_one).stage.name == "Lost"
    assert Deal.objects.get(contact=new_one).stage.name == "Contacted"


def test_a_batch_of_sends_opens_its_deals_in_one_insert_not_one_per_message():
    sales = Pipeline.objects.get(name="Sales")
    Pipeline.objects.filter(pk=sales.pk).update(contacted_in_first_stage=True)
    _campaign(rep("ann"), 6)
    enrollments_materialize(now=timezone.now(), batch=500)
    batches = []
    for _ in range(10):
        ids = list(Message.objects.filter(status="queued").values_list("id", flat=True))
        if not ids:
            break
        with CaptureQueriesContext(connection) as queries:
            sent = [i for i, s in messages_send(message_ids=ids).items() if s == "sent"]
        inserts = [
            q for q in queries.captured_queries if 'INSERT INTO "campaigns_deal"' in q["sql"]
        ]
        batches.append((len(sent), len(inserts)))
    assert Deal.objects.count() == 6
    assert max(n for n, _ in batches) > 1  # some batch sent several messages
    assert all(inserts == 1 for _, inserts in batches), batches


def test_a_bulk_move_in_the_admin_sends_the_deal_stage_changed_webhook_for_each_deal(client):
    boss = rep("boss", is_superuser=True)
    hook = WebhookSubscriber.objects.create(
        url="https://hooks.example/in", events=["deal.stage_changed"]
    )
    sales = Pipeline.objects.get(name="Sales")
    replied, meeting = sales.stages.get(name="Replied"), sales.stages.get(name="Meeting")
    deals = [
        Deal.objects.create(contact=factories.contact(i), pipeline=sales, stage=replied)
        for i in (1, 2)
    ]
    client.force_login(boss)
    client.post(
        "/admin/pipelines/deal/",
        {
            "action": "move_stage",
            "confirm": "1",
            "stage": meeting.id,
            "reason": "met at the fair",
            ACTION_CHECKBOX_NAME: [d.id for d in deals],
        },
    )
    sent = WebhookDelivery.objects.filter(subscriber=hook, event="deal.stage_changed")
    assert sorted(d.payload["deal_id"] for d in sent) == sorted(d.id for d in deals)
    assert {(d.payload["from_stage"], d.payload["to_stage"]) for d in sent} == {
        ("Replied", "Meeting")
    }
