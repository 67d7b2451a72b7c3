import json
from datetime import timedelta

import httpx

from campaigns.models import Campaign, Step
from campaigns.triggers.models import Trigger
from fakeplatform.meta import meta_signature
from pipelines.models import Pipeline, Stage
from tests import factories
from tests.channels.conftest import SECRETS


def worker_env(fake) -> dict[str, str]:
    """Worker and dispatcher on the real platform backends, pointed at the fake platform."""
    return {
        "PLATFORM_BACKENDS": "true",
        "PLATFORM_BASE_URL": fake.url,
        "META_APP_SECRET": SECRETS["meta"],
        "META_VERIFY_TOKEN": "verify-me",
        "TELEGRAM_WEBHOOK_SECRET": SECRETS["telegram"],
        "DATABASE_CONN_MAX_AGE": "0",
    }


def hook(control, live_server, platform: str) -> None:
    secret = SECRETS["telegram"] if platform == "telegram" else SECRETS["meta"]
    control.post(
        "webhooks", platform=platform, url=f"{live_server.url}/webhooks/{platform}/", secret=secret
    )


def redeliver_meta(url: str, body: str) -> int:
    """Post a webhook body again exactly as Meta signed it (Meta retries on any doubt)."""
    raw = body.encode()
    headers = {"X-Hub-Signature-256": meta_signature(SECRETS["meta"], raw)}
    return httpx.post(url, content=raw, headers=headers).status_code


def stage(name: str = "New lead") -> Stage:
    pipeline = Pipeline.objects.create(name="Inbound leads")
    return Stage.objects.create(pipeline=pipeline, name=name, position=1)


def campaign(senders, steps, name: str = "Lead magnet") -> Campaign:
    camp = factories.campaign(senders=senders, steps=steps, name=name)
    camp.status = Campaign.Status.RUNNING
    camp.save(update_fields=["status"])
    return camp


def step(camp: Campaign, position: int) -> Step:
    return Step.objects.get(sequence=camp.sequence, position=position)


def trigger(**fields) -> Trigger:
    fields.setdefault("name", "Price keyword")
    tags = fields.pop("tags", [])
    t = Trigger.objects.create(**fields)
    t.tags.set(tags)
    return t


def payload(body: str) -> dict:
    return json.loads(body)


HOUR = timedelta(hours=1)
