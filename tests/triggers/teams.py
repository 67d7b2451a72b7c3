"""Two teams, each with a manager, a rep, a Messenger page (owned by the rep), a contact
and a running campaign of the rep's; and an admin. Used by the trigger and template
scoping tests (import the fixture: ``from tests.triggers.teams import two_teams``)."""

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import User

from campaigns.models import Campaign
from contacts.models import Contact, Identity
from core.teams import Team
from outreach.models import SenderAccount
from tests import factories
from tests.api.conftest import make_user
from tests.channels.helpers import platform_sender


@dataclass
class Side:
    team: Team
    manager: User
    rep: User
    page: SenderAccount  # a Messenger page, id PAGE_<X>
    contact: Contact  # writes to the page as PSID_<X>
    campaign: Campaign  # running, sends from the page, the contact enrolled in it


@dataclass
class TwoTeams:
    admin: User
    a: Side
    b: Side


def _side(x: str) -> Side:
    team = Team.objects.create(name=f"Team {x}")
    manager, rep = make_user(f"manager_{x}", "manager"), make_user(f"rep_{x}", "rep")
    team.managers.add(manager)
    team.members.add(rep)
    page = platform_sender("messenger", f"PAGE_{x}")
    page.owner = rep
    page.save(update_fields=["owner"])
    contact = factories.contact(0, channels=(), owner=rep, first_name=f"Lead{x}")
    Identity.objects.create(
        contact=contact, channel="messenger", value=f"lead_{x}", platform_user_id=f"PSID_{x}"
    )
    campaign = factories.campaign(
        senders=[page], steps=(("messenger", 3600),), name=f"Campaign {x}"
    )
    Campaign.objects.filter(id=campaign.id).update(owner=rep, status=Campaign.Status.RUNNING)
    campaign.refresh_from_db()
    return Side(team, manager, rep, page, contact, campaign)


@pytest.fixture
def two_teams(db) -> TwoTeams:
    return TwoTeams(admin=make_user("boss", "admin"), a=_side("A"), b=_side("B"))
