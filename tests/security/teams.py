"""Two teams, as production runs them: import the fixture into a test module to use it.

    from tests.security.teams import two_teams  # noqa: F401  (a pytest fixture)

Team North: manager nora, reps ann and art. Team South: manager sam, rep sid. Admin root.
Each rep owns a contact (with a conversation and a deal), a sender and a campaign.
"""

from dataclasses import dataclass, field

import pytest
from django.contrib.auth.models import Group, User

from campaigns.models import Campaign
from contacts.models import Contact
from core.teams import Team
from outreach.models import Conversation, SenderAccount
from pipelines.models import Deal, Pipeline, Stage
from tests import factories

PASSWORD = "team-pass-123"


def member(name: str, role: str) -> User:
    user = User.objects.create_user(name, f"{name}@example.com", PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


@dataclass
class Rows:
    """What one rep owns."""

    contact: Contact
    conversation: Conversation
    sender: SenderAccount
    campaign: Campaign
    deal: Deal


@dataclass
class Teams:
    root: User
    nora: User  # manages North
    ann: User
    art: User
    sam: User  # manages South
    sid: User
    pipeline: Pipeline
    stage: Stage
    rows: dict[str, Rows] = field(default_factory=dict)  # by rep username


def _rows(user: User, n: int, pipeline: Pipeline, stage: Stage) -> Rows:
    contact = factories.contact(n, owner=user, first_name=f"{user.username.title()}Lead")
    sender = factories.sender(f"{user.username.title()}Box", owner=user)
    conversation = Conversation.objects.create(identity=contact.identities.get(), sender=sender)
    campaign = factories.campaign(senders=[sender], name=f"{user.username.title()} Outreach")
    Campaign.objects.filter(id=campaign.id).update(owner=user)
    campaign.refresh_from_db()
    deal = Deal.objects.create(contact=contact, pipeline=pipeline, stage=stage, owner=user)
    return Rows(contact, conversation, sender, campaign, deal)


@pytest.fixture
def two_teams(db) -> Teams:
    root = member("root", "admin")
    nora, ann, art = member("nora", "manager"), member("ann", "rep"), member("art", "rep")
    sam, sid = member("sam", "manager"), member("sid", "rep")
    north, south = Team.objects.create(name="North"), Team.objects.create(name="South")
    north.managers.add(nora)
    north.members.add(ann, art)
    south.managers.add(sam)
    south.members.add(sid)
    pipeline = Pipeline.objects.create(name="Two teams")
    stage = Stage.objects.create(pipeline=pipeline, name="New", position=1)
    Stage.objects.create(pipeline=pipeline, name="Won", position=2, kind=Stage.Kind.WON)
    teams = Teams(root, nora, ann, art, sam, sid, pipeline, stage)
    for n, rep in enumerate((ann, art, sid), start=1):
        teams.rows[rep.username] = _rows(rep, n, pipeline, stage)
    return teams
