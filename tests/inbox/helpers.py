from django.contrib.auth import get_user_model
from django.test import Client

from tests import factories
from tests.channels.helpers import contact_replies


def rep(name: str, **fields):
    return get_user_model().objects.create_user(
        name, f"{name}@example.com", "pw-123456-x", is_staff=True, **fields
    )


def reply_from(contact, sender, text: str, *, auto_reply: bool = False):
    """The contact's reply, through the signed webhook and the worker's processing."""
    return contact_replies(Client(), contact, sender, text, auto_reply=auto_reply)


def campaign_with(owner, channels=("email",), delay: float = 3600):
    senders = [factories.sender(f"S-{c}", channel=c) for c in channels]
    steps = tuple((c, 0 if i == 0 else delay) for i, c in enumerate(channels * 2))
    camp = factories.campaign(senders=senders, steps=steps)
    camp.owner, camp.status = owner, "running"
    camp.save(update_fields=["owner", "status"])
    return camp, senders


def default_pipelines() -> None:
    """Sales and Influencers as the data migration makes them; a live-server test's flush
    (transactional_db) removes rows that migrations wrote."""
    import importlib

    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    name = ("campaigns", "0006_fill_default_pipelines")
    migration = importlib.import_module(f"{name[0]}.migrations.{name[1]}")
    # The models as that migration saw them (campaigns' then, pipelines' today).
    apps = MigrationLoader(connection).project_state(name).apps
    migration.fill_default_pipelines(apps, None)
    probabilities = importlib.import_module("pipelines.migrations.0002_stage_probability")
    probabilities.probability_by_kind(MigrationLoader(connection).project_state().apps, None)
    by_order = importlib.import_module("pipelines.migrations.0004_stage_probabilities_by_order")
    by_order.probabilities_by_order(MigrationLoader(connection).project_state().apps, None)
