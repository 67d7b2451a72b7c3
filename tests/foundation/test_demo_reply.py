"""`make demo-reply` says which process it could not reach, on the port WEB_PORT names."""

import socket

import pytest
from django.core.management import CommandError, call_command

from campaigns.services import enrollments_create
from contacts.models import Identity
from demo.management.commands.demo_reply import DEMO_CAMPAIGN
from tests import factories

pytestmark = pytest.mark.django_db


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_reply_says_the_web_process_on_web_port_did_not_answer(settings, monkeypatch):
    sender = factories.sender("Bot", channel="telegram")
    campaign = factories.campaign(senders=[sender], steps=[("telegram", 0)], name=DEMO_CAMPAIGN)
    contact = factories.contact(1, channels=("telegram",))
    Identity.objects.filter(contact=contact).update(platform_user_id="100000")
    enrollments_create(campaign=campaign, contacts=[contact])
    settings.OUTREACH_CHANNELS = {
        **settings.OUTREACH_CHANNELS,
        "telegram": {
            "BACKEND": "outreach.channels.console.ConsoleChannel",
            "OPTIONS": {"secret_token": "s", "base_url": "http://127.0.0.1:1"},
        },
    }
    port = _free_port()
    monkeypatch.setenv("WEB_PORT", str(port))
    with pytest.raises(CommandError) as exc:
        call_command("demo_reply", wait=0.1)
    message = str(exc.value)
    assert f"web process at http://127.0.0.1:{port}" in message
    assert "WEB_PORT" in message and "worker" not in message
