"""Nonsense in the environment stops start-up with a message that names the variable."""

import subprocess
import sys

import pytest

from tests.processes import ROOT

CHECK = "import django; django.setup(); print('started')"


def _start(**env: str) -> subprocess.CompletedProcess:
    base = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "true"}
    return subprocess.run(
        [sys.executable, "-c", CHECK],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_valid_environment_starts():
    assert "started" in _start().stdout


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEBUG", "maybe"),
        ("DATABASE_URL", "nonsense://x"),
        ("CELERY_BROKER_URL", "carrier-pigeon://coop"),
        ("DISPATCH_INTERVAL", "-1"),
        ("REQUEUE_AFTER", "soon"),
        ("DATABASE_CONN_MAX_AGE", "forever"),
    ],
)
def test_nonsense_value_stops_startup_naming_the_variable(name, value):
    result = _start(**{name: value})
    assert result.returncode != 0
    assert "started" not in result.stdout
    assert name in result.stderr.splitlines()[-1]


def test_production_mode_refuses_to_start_without_a_secret_key():
    result = _start(DEBUG="false")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr.splitlines()[-1]


def test_unsubscribe_links_follow_the_web_port_of_make_run():
    show = "import django; django.setup(); from django.conf import settings; "
    show += "print(settings.PUBLIC_URL)"
    base = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "true"}
    run = subprocess.run(
        [sys.executable, "-c", show],
        cwd=ROOT,
        env={**base, "WEB_PORT": "8123"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.stdout.strip() == "http://127.0.0.1:8123"
