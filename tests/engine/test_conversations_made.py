"""A conversation got or made for one (identity, sender) (outreach/sending/create.py): a new
one is inserted with the fields given and returned by its insert, as a read would return
it; an existing one is returned as it is, the fields left unapplied."""

from datetime import timedelta

import pytest
from django.utils import timezone

from outreach.models import Conversation
from outreach.sending.create import conversation_get_or_create, conversations_for
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_conversation_made_is_returned_whole_with_the_fields_given():
    identity = factories.contact(1).identities.get()
    sender = factories.sender("Anna")
    at = timezone.now() - timedelta(minutes=5)
    made, created = conversation_get_or_create(identity.id, sender.id, last_inbound_at=at)
    assert created
    read = Conversation.objects.get()
    assert read.last_inbound_at == at
    for field in Conversation._meta.concrete_fields:
        assert getattr(made, field.attname) == getattr(read, field.attname), field.attname
    # A row of the database, as a read gives: saving it again updates it.
    made.comment_id = "c1"
    made.save()
    assert Conversation.objects.get().comment_id == "c1"


def test_an_existing_conversation_is_returned_as_it_is():
    identity = factories.contact(1).identities.get()
    sender = factories.sender("Anna")
    [existing] = conversations_for({(identity.id, sender.id)}).values()
    found, created = conversation_get_or_create(
        identity.id, sender.id, last_inbound_at=timezone.now()
    )
    assert not created
    assert found.id == existing.id
    assert found.last_inbound_at is None
    assert Conversation.objects.get().last_inbound_at is None


def test_conversations_for_makes_only_the_missing_ones():
    first, second = (factories.contact(n).identities.get() for n in (1, 2))
    sender = factories.sender("Anna")
    [existing] = conversations_for({(first.id, sender.id)}).values()
    pairs = {(first.id, sender.id), (second.id, sender.id)}
    found = conversations_for(pairs)
    assert set(found) == pairs
    assert found[(first.id, sender.id)].id == existing.id
    assert Conversation.objects.count() == 2
    assert found[(second.id, sender.id)] == Conversation.objects.get(identity=second)
