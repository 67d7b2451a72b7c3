import base64
import json
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.utils import timezone

from fakeplatform.esp import EspServer
from fakeplatform.imap import ImapServer
from fakeplatform.platforms import PlatformServer
from outreach.channels import get_channel

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "platforms"
SECRETS = {
    "meta": "meta-app-secret",
    "x": "x-consumer-secret",
    "telegram": "tg-secret-token",
    "email": "email-webhook-secret",
}


def fixture_bytes(platform: str, name: str) -> bytes:
    return (FIXTURES / platform / name).read_bytes()


def fixture_json(platform: str, name: str):
    return json.loads(fixture_bytes(platform, f"{name}.json"))


@pytest.fixture(scope="session")
def fake_server():
    server = PlatformServer().start()
    yield server
    server.stop()


@pytest.fixture
def fake(fake_server):
    """The fake platform, its state (clock, users, outbox, faults) fresh for each test."""
    fake_server.state.reset()
    with fake_server.platforms.lock:
        fake_server.platforms.reset()
    return fake_server


class FakeControl:
    client = httpx.Client()

    def __init__(self, url: str) -> None:
        self.url = url

    def post(self, action: str, **body):
        r = self.client.post(f"{self.url}/_fake/{action}", json=body, timeout=20)
        r.raise_for_status()
        return r.json()

    def outbox(self, platform: str | None = None) -> list[dict]:
        rows = self.client.get(f"{self.url}/_fake/outbox").json()
        return [r for r in rows if platform is None or r["platform"] == platform]


@pytest.fixture
def control(fake) -> FakeControl:
    return FakeControl(fake.url)


@pytest.fixture
def platform_channels(settings, fake):
    """Every automated channel on its real backend, pointed at the fake platform."""
    meta = {"app_secret": SECRETS["meta"], "verify_token": "verify-me", "base_url": fake.url}
    settings.OUTREACH_CHANNELS = {
        **settings.OUTREACH_CHANNELS,
        "instagram": {
            "BACKEND": "outreach.channels.meta.backend.InstagramChannel",
            "OPTIONS": meta,
        },
        "messenger": {
            "BACKEND": "outreach.channels.meta.backend.MessengerChannel",
            "OPTIONS": meta,
        },
        "whatsapp": {
            "BACKEND": "outreach.channels.whatsapp.backend.WhatsAppChannel",
            "OPTIONS": meta,
        },
        "x": {
            "BACKEND": "outreach.channels.x.backend.XChannel",
            "OPTIONS": {"consumer_secret": SECRETS["x"], "base_url": fake.url},
        },
        "telegram": {
            "BACKEND": "outreach.channels.telegram.backend.TelegramChannel",
            "OPTIONS": {"secret_token": SECRETS["telegram"], "base_url": fake.url},
        },
        "email": {
            "BACKEND": "outreach.channels.email.backend.EmailChannel",
            "OPTIONS": {"webhook_secret": SECRETS["email"]},
        },
    }
    return {name: get_channel(name) for name in settings.OUTREACH_CHANNELS}


def ago(**kwargs):
    return timezone.now() - timedelta(**kwargs)


@pytest.fixture(scope="session")
def imap_server():
    server = ImapServer().start()
    yield server
    server.stop()


@pytest.fixture
def imap(imap_server):
    """The fake IMAP server holding anna@acme.example's empty INBOX."""
    from tests.channels.helpers import fake_mailbox

    return fake_mailbox(imap_server)


# --- the fake ESP, for the ESP tests (test_esp*.py) ------------------------------------------

ESP_KEY = "esp-test-key"  # the fake ESP's API key: a sender holding it may send
ESP_WEBHOOK_AUTH = "anymail-user:hook-password"
ESP_AUTH = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(ESP_WEBHOOK_AUTH.encode()).decode()}
MAILGUN_SIGNING_KEY = "key-mailgun-webhook-signing"


@pytest.fixture(scope="module")
def esp_server():
    server = EspServer(key=ESP_KEY).start()
    yield server
    server.stop()


@pytest.fixture
def esp(settings, esp_server, platform_channels):
    """The fake ESP, emptied, as every ESP's API host, and our webhooks' secrets."""
    with esp_server.lock:
        esp_server.outbox.clear()
        esp_server.sns_confirmed.clear()
    settings.ANYMAIL = {
        "WEBHOOK_SECRET": ESP_WEBHOOK_AUTH,
        "POSTMARK_API_URL": f"{esp_server.url}/postmark/",
        "MAILGUN_API_URL": f"{esp_server.url}/mailgun/v3/",
        "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_SIGNING_KEY,
        "SENDGRID_API_URL": f"{esp_server.url}/sendgrid/v3/",
        "SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY": esp_server.sendgrid_signer.public_key,
        "BREVO_API_URL": f"{esp_server.url}/brevo/v3/",
        "BREVO_API_KEY": ESP_KEY,
        "AMAZON_SES_CLIENT_PARAMS": {
            "region_name": "us-east-1",
            "endpoint_url": f"{esp_server.url}/aws",
        },
        # The credentials SNS confirmations use (a sender's own key sends its mail).
        "AMAZON_SES_SESSION_PARAMS": {
            "aws_access_key_id": esp_server.ses_key_id,
            "aws_secret_access_key": "webhook-secret-key",
        },
    }
    return esp_server


# --- the replay corpus's outcome table in the terminal summary (test_replay_corpus.py) -------

_CORPUS_TEST = "test_replay_corpus.py::test_each_corpus_file_replays_to_its_outcome["
_corpus_results: dict[str, bool] = {}


def pytest_runtest_logreport(report):
    if _CORPUS_TEST not in report.nodeid:
        return
    path = report.nodeid.split("[", 1)[1].rstrip("]")
    if report.when == "call" or report.failed:
        _corpus_results[path] = _corpus_results.get(path, True) and report.passed


def pytest_terminal_summary(terminalreporter):
    if not _corpus_results:
        return
    from tests.channels import corpus

    rows = corpus.rows()
    table: dict[tuple[str, str], list[int]] = {}
    for path, passed in _corpus_results.items():
        row = rows.get(path)
        key = (row.channel, row.outcome) if row else ("?", "not in the table")
        counts = table.setdefault(key, [0, 0])
        counts[0] += 1
        counts[1] += passed
    write = terminalreporter.write_line
    terminalreporter.section("inbound replay corpus")
    write(f"{'channel':<10} {'outcome':<16} {'files':>5} {'passed':>6}")
    for (channel, outcome), (files, passed) in sorted(table.items()):
        write(f"{channel:<10} {outcome:<16} {files:>5} {passed:>6}")
    total, ok = len(_corpus_results), sum(_corpus_results.values())
    write(f"{'all':<10} {'':<16} {total:>5} {ok:>6}")
