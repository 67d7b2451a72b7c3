"""Several events applied to a contact's deal at once (a reply's "reply" and its label): the
same moves, history and fan-out as applying them one after the other, with one read, one
lock and one write of each table."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from outreach.models import Conversation, Message
from pipelines.models import Deal, Pipeline, StageRule
from pipelines.services import deal_apply_events
from pipelines.signals import deal_stage_changed
from tests import factories
from tests.inbox.helpers import campaign_with, rep, reply_from
from webhooks.models import WebhookDelivery, WebhookSubscriber

pytestmark = pytest.mark.django_db


def _reply(contact) -> Message:
    sender = factories.sender()
    conversation = Conversation.objects.create(identity=contact.identities.get(), sender=sender)
    return Message.objects.create(
        conversation=conversation,
        sender=sender,
        channel="email",
        direction="in",
        status="received",
        body="Tell me more",
    )


def _stage_names(changes) -> list[tuple[str | None, str]]:
    return [(c.from_stage.name if c.from_stage else None, c.to_stage.name) for c in changes]


def test_a_replys_events_move_a_deal_in_order_locking_and_writing_it_once():
    sales = Pipeline.objects.get(name="Sales")
    contact = factories.contact(1)
    deal = Deal.objects.create(
        contact=contact, pipeline=sales, stage=sales.stages.get(name="Contacted")
    )
    message = _reply(contact)
    told = []

    def record(sender, *, deal, change, **kwargs):
        told.append((change.id, deal.stage.name, change.to_stage.name))

    deal_stage_changed.connect(record, weak=False, dispatch_uid="t")
    try:
        with CaptureQueriesContext(connection) as queries:
            moves = deal_apply_events(
                contact=contact, events=["reply", "intent:interested"], message=message
            )
    finally:
        deal_stage_changed.disconnect(dispatch_uid="t")

    assert _stage_names(moves) == [("Contacted", "Replied"), ("Replied", "Interested")]
    newest_first = list(deal.history.all())  # the history's own order: by time alone
    assert [(h.id, h.to_stage.name, h.reason, h.message_id) for h in newest_first] == [
        (moves[1].id, "Interested", f"reply labelled interested (message #{message.id}, "
         "rule intent:interested)", message.id),
        (moves[0].id, "Replied", f"first reply (message #{message.id}, rule reply)", message.id),
    ]  # fmt: skip
    assert newest_first[0].at > newest_first[1].at
    deal.refresh_from_db()
    assert deal.stage.name == "Interested"
    assert told == [(moves[0].id, "Replied", "Replied"), (moves[1].id, "Interested", "Interested")]
    sql = [q["sql"] for q in queries.captured_queries]
    if connection.features.has_select_for_update:  # SQLite locks the whole database instead
        assert sum("FOR UPDATE" in s for s in sql) == 1
    assert sum(s.startswith('INSERT INTO "campaigns_dealstagechange"') for s in sql) == 1
    assert sum(s.startswith('UPDATE "campaigns_deal"') for s in sql) == 1


def test_an_event_that_closes_the_deal_leaves_the_next_events_to_a_new_deal():
    # As one event after the other did: the label finds no open deal and opens one.
    sales = Pipeline.objects.get(name="Sales")
    StageRule.objects.filter(pipeline=sales, event="reply").update(
        stage=sales.stages.get(name="Lost")
    )
    contact = factories.contact(1)
    message = _reply(contact)

    moves = deal_apply_events(
        contact=contact, events=["reply", "intent:interested"], message=message
    )

    assert _stage_names(moves) == [("Contacted", "Lost"), ("Contacted", "Interested")]
    lost, interested = Deal.objects.filter(contact=contact).order_by("id")
    assert (lost.stage.name, interested.stage.name) == ("Lost", "Interested")
    for deal in (lost, interested):
        opened = deal.history.order_by("at")[0]
        assert (opened.from_stage, opened.reason) == (None, "opened on first reply")


def test_an_unsubscribe_reply_tells_of_the_opt_out_between_the_deals_two_moves():
    hook = WebhookSubscriber.objects.create(
        url="https://hooks.example/in", events=["deal.stage_changed", "contact.opted_out"]
    )
    camp, (email,) = campaign_with(rep("olga"))
    contact = factories.contact(1)
    reply_from(contact, email, "Please delete my data.")  # asks, but not in opt-out words

    sent = WebhookDelivery.objects.filter(subscriber=hook).order_by("id")
    assert [(d.event, d.payload.get("to_stage")) for d in sent] == [
        ("deal.stage_changed", "Contacted"),
        ("deal.stage_changed", "Replied"),
        ("contact.opted_out", None),
        ("deal.stage_changed", "Lost"),
    ]
