"""The pipeline board: what each column and the forecast add up to, and who may move a deal."""

from decimal import Decimal

import pytest
from django.test import Client

from pipelines.models import Deal, Pipeline
from tests import factories
from tests.inbox.helpers import rep

pytestmark = pytest.mark.django_db


def deal_of(owner, n: int, stage_name: str, value: str) -> Deal:
    sales = Pipeline.objects.get(name="Sales")
    contact = factories.contact(n)
    return Deal.objects.create(
        contact=contact,
        pipeline=sales,
        stage=sales.stages.get(name=stage_name),
        owner=owner,
        value=Decimal(value),
    )


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_board_shows_each_columns_count_and_total_and_the_weighted_forecast():
    ann, bob = rep("ann"), rep("bob")
    sales = Pipeline.objects.get(name="Sales")
    sales.stages.filter(name="Interested").update(probability=50)
    deal_of(ann, 1, "Interested", "1000")
    deal_of(ann, 2, "Interested", "500")
    deal_of(ann, 3, "Won", "200")
    deal_of(ann, 4, "Lost", "9000")
    deal_of(bob, 5, "Interested", "7777")  # another rep's deal counts on their board only

    board = signed_in(ann).get(f"/pipelines/{sales.pk}/").context["board"]

    columns = {c.stage.name: (c.count, c.total) for c in board.columns}
    assert columns["Interested"] == (2, Decimal("1500"))
    assert columns["Won"] == (1, Decimal("200"))
    assert columns["Lost"] == (1, Decimal("9000"))
    assert board.forecast == Decimal("950.00")  # 1500 x 50 % + 200 x 100 % + 9000 x 0 %


def test_a_rep_moves_their_own_deal_but_another_teams_deal_is_not_found():
    ann, bob = rep("ann"), rep("bob")
    mine, theirs = deal_of(ann, 1, "Replied", "10"), deal_of(bob, 2, "Replied", "10")
    meeting = mine.pipeline.stages.get(name="Meeting")
    client = signed_in(ann)
    move = {"stage": meeting.pk}

    assert client.post(f"/pipelines/deals/{mine.pk}/move/", move).status_code == 200
    assert client.post(f"/pipelines/deals/{theirs.pk}/move/", move).status_code == 404
    assert Deal.objects.get(pk=mine.pk).stage == meeting
    assert Deal.objects.get(pk=theirs.pk).stage.name == "Replied"
