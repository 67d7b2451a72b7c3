import pytest

from fakeplatform.server import FakePlatformServer

FAKE = "outreach.channels.fakeplatform.FakePlatformChannel"


@pytest.fixture
def fake_email_platform(settings):
    """The fake platform over HTTP as the email channel's backend (test_team_caps.py,
    test_provider_caps.py)."""
    server = FakePlatformServer().start()
    settings.OUTREACH_CHANNELS = {
        **settings.OUTREACH_CHANNELS,
        "email": {"BACKEND": FAKE, "OPTIONS": {"base_url": server.url}},
    }
    settings.SEND_GRACE = 60
    yield server
    server.stop()
