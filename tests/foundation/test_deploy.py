"""deploy/: the systemd units and the compose file run web under gunicorn, one worker per
queue (config/queues.py) and beat, and read only variables the README documents."""

import re
from pathlib import Path

import yaml

from config.queues import QUEUES

ROOT = Path(__file__).resolve().parent.parent.parent
DEPLOY = ROOT / "deploy"


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def documented() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)`", readme, re.MULTILINE)) | set(
        re.findall(r"`([A-Z][A-Z0-9_]+)`, `", readme)
    )


def test_compose_runs_web_under_gunicorn_beat_and_one_worker_per_queue():
    services = compose()["services"]
    assert {"postgres", "redis", "web", "beat"} <= services.keys()
    assert "gunicorn config.wsgi" in services["web"]["command"]
    consumed = []
    for name, service in services.items():
        command = service.get("command", "")
        if " worker " in f" {command} ":
            queues = re.search(r"-Q (\S+)", command)
            assert queues, name
            consumed += queues.group(1).split(",")
    assert sorted(consumed) == sorted(QUEUES)


def test_the_systemd_worker_unit_takes_its_queue_from_the_instance_name():
    unit = (DEPLOY / "systemd" / "dmengine-worker@.service").read_text()
    assert "-Q %i -n %i@%H" in unit
    assert "gunicorn config.wsgi" in (DEPLOY / "systemd" / "dmengine-web.service").read_text()


def test_every_variable_the_deploy_files_read_is_in_the_readme():
    text = (DEPLOY / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", text))
    for service in compose()["services"].values():
        env = service.get("environment") or {}
        used |= {k for k in env if not k.startswith("POSTGRES_")}  # the postgres image's own
    env_file = (DEPLOY / "env.example").read_text()
    used |= set(re.findall(r"^([A-Z][A-Z0-9_]*)=", env_file, re.MULTILINE))
    assert sorted(used - documented()) == []
