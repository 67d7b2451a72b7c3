"""One reply service for every interface: the API and the inbox queue the same message."""

import pytest

from outreach.models import Message
from tests.api.conftest import api, world  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


def test_an_api_reply_keeps_its_subject_and_is_queued_as_human_written(world, api):  # noqa: F811
    conversation = world.alices.conversation
    url = f"/api/v1/conversations/{conversation.id}/reply/"
    body = {"body": "  Thanks, Thursday works  ", "subject": "Re: intro"}
    response = api(world.alice).post(url, body, format="json")
    assert response.status_code == 201
    message = Message.objects.get(id=response.json()["id"])
    assert (message.subject, message.body) == ("Re: intro", "Thanks, Thursday works")
    assert (message.direction, message.status, message.human_written) == ("out", "queued", True)


def test_an_api_reply_of_blanks_only_is_a_400_with_a_field_error(world, api):  # noqa: F811
    conversation = world.alices.conversation
    before = Message.objects.count()
    url = f"/api/v1/conversations/{conversation.id}/reply/"
    response = api(world.alice).post(url, {"body": "   "}, format="json")
    assert response.status_code == 400
    assert "body" in response.json()
    assert Message.objects.count() == before


def test_an_api_reply_with_send_at_waits_for_that_time(world, api):  # noqa: F811
    conversation = world.alices.conversation
    url = f"/api/v1/conversations/{conversation.id}/reply/"
    body = {"body": "Talk tomorrow", "send_at": "2099-01-02T09:30:00+01:00"}
    response = api(world.alice).post(url, body, format="json")
    assert response.status_code == 201
    message = Message.objects.get(id=response.json()["id"])
    assert message.not_before.isoformat() == "2099-01-02T08:30:00+00:00"
    assert (message.status, message.hold_reason) == ("queued", "scheduled by a rep")
