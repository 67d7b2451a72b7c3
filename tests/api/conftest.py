"""A small team: admin, a manager with rep alice in her team, and bob in no team.

Each of alice and bob owns a contact with a conversation, a campaign and a deal.
"""

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from campaigns.models import Campaign
from contacts.models import Contact
from core.api_tokens import api_token_create
from core.teams import Team
from outreach.models import Conversation, Message
from pipelines.models import Deal, Pipeline, Stage
from tests import factories


def make_user(name: str, role: str) -> User:
    user = User.objects.create_user(name, f"{name}@example.com", f"{name}-pass-123", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


def client_for(user: User) -> APIClient:
    client = APIClient()
    _, key = api_token_create(user=user, name="tests")
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@dataclass
class Owned:
    contact: Contact
    conversation: Conversation
    message: Message
    campaign: Campaign
    deal: Deal


@dataclass
class World:
    admin: User
    manager: User
    alice: User
    bob: User
    alices: Owned
    bobs: Owned
    stage: Stage
    sender: object


def _owned(user: User, n: int, sender, pipeline, stage) -> Owned:
    contact = factories.contact(n, owner=user, first_name=f"{user.username.title()}Lead")
    conversation = Conversation.objects.create(identity=contact.identities.get(), sender=sender)
    message = Message.objects.create(
        conversation=conversation,
        sender=sender,
        channel="email",
        direction=Message.Direction.INBOUND,
        status=Message.Status.RECEIVED,
        body=f"Hello from {contact.first_name}",
    )
    campaign = factories.campaign(senders=[sender], name=f"{user.username} campaign")
    Campaign.objects.filter(id=campaign.id).update(owner=user)
    deal = Deal.objects.create(contact=contact, pipeline=pipeline, stage=stage, owner=user)
    return Owned(contact, conversation, message, campaign, deal)


@pytest.fixture
def world(db) -> World:
    admin = make_user("boss", "admin")
    manager = make_user("mia", "manager")
    alice = make_user("alice", "rep")
    bob = make_user("bob", "rep")
    team = Team.objects.create(name="North")
    team.managers.add(manager)
    team.members.add(alice)
    sender = factories.sender()
    pipeline = Pipeline.objects.create(name="API tests")
    stage = Stage.objects.create(pipeline=pipeline, name="New", position=1)
    Stage.objects.create(pipeline=pipeline, name="Won", position=2, kind=Stage.Kind.WON)
    return World(
        admin=admin,
        manager=manager,
        alice=alice,
        bob=bob,
        alices=_owned(alice, 1, sender, pipeline, stage),
        bobs=_owned(bob, 2, sender, pipeline, stage),
        stage=stage,
        sender=sender,
    )


@pytest.fixture
def api(world):
    """api(user) -> an APIClient authenticated with that user's token."""
    return client_for
