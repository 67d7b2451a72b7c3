"""The builder's and the admin's launch warnings."""

import pytest

from campaigns.services import LaunchError, campaign_launch, campaign_launch_check
from tests import factories

pytestmark = pytest.mark.django_db


def test_launching_a_campaign_with_no_contacts_warns_first():
    empty = factories.campaign(senders=[factories.sender()], name="Empty")
    problems, warnings = campaign_launch_check(campaign=empty)
    assert problems == []
    assert warnings == ["No contacts are enrolled: the campaign will send nothing until some are."]
    with pytest.raises(LaunchError):
        campaign_launch(campaign=empty)
    assert campaign_launch(campaign=empty, confirm_warnings=True).status == "running"
