import os
import time

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from campaigns.models import Enrollment
from contacts.models import Identity

DEMO_CAMPAIGN = "Demo: spring outreach"
LIVE = (Enrollment.State.ACTIVE, Enrollment.State.WAITING)


class Command(BaseCommand):
    help = (
        "The demo's full loop: a demo contact replies on Telegram. The fake platform posts a "
        "signed webhook to the running engine, the worker records the reply and the contact's "
        "follow-ups stop. Run it while `make run` is running."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--text", default="Sounds good, can we talk on Tuesday?")
        parser.add_argument("--wait", type=float, default=30.0, help="seconds to wait for it")

    def handle(self, *args, text: str, wait: float, **options) -> None:
        enrollment = (
            Enrollment.objects.filter(campaign__name=DEMO_CAMPAIGN, state__in=LIVE)
            .select_related("contact")
            .order_by("id")
            .first()
        )
        if enrollment is None:
            raise CommandError("No active demo enrollment left (run `make run` on a fresh var/).")
        identity = (
            Identity.objects.filter(contact=enrollment.contact, channel="telegram")
            .exclude(platform_user_id="")
            .first()
        )
        if identity is None:
            raise CommandError(f"{enrollment.contact} has no Telegram chat in the demo data.")
        options_ = settings.OUTREACH_CHANNELS["telegram"].get("OPTIONS", {})
        secret = options_.get("secret_token", "")
        if not secret or "base_url" not in options_:
            raise CommandError(
                "Telegram is not on the fake platform: start the engine with `make run`, "
                "which sets PLATFORM_BACKENDS, PLATFORM_BASE_URL and TELEGRAM_WEBHOOK_SECRET."
            )
        # The web process's port, as the Makefile and the Procfile set it.
        port = os.environ.get("WEB_PORT", "8000")
        web = f"http://127.0.0.1:{port}"
        try:
            httpx.get(f"{web}/health/", timeout=5).raise_for_status()
        except httpx.HTTPError as exc:
            raise CommandError(
                f"The web process at {web} did not answer ({exc}): is `make run` running, "
                f"and on port {port}? Set WEB_PORT to the port it was started with "
                "(e.g. `make demo-reply WEB_PORT=8001`)."
            ) from exc
        fake = settings.FAKE_PLATFORM_URL.rstrip("/")
        try:
            with httpx.Client(base_url=fake, timeout=20) as client:
                hook = {"platform": "telegram", "url": f"{web}/webhooks/telegram/"}
                client.post("/_fake/webhooks", json=hook | {"secret": secret}).raise_for_status()
                said = client.post(
                    "/_fake/say",
                    json={"platform": "telegram", "user": identity.platform_user_id, "text": text},
                )
                said.raise_for_status()
        except httpx.HTTPError as exc:
            raise CommandError(f"The fake platform at {fake} did not answer: {exc}") from exc
        statuses = said.json()["statuses"]
        if not statuses or any(code != 200 for code in statuses):
            raise CommandError(
                f"The fake platform could not deliver the webhook to {web}/webhooks/telegram/ "
                f"(HTTP {statuses}; 0 means no connection): check WEB_PORT and "
                "TELEGRAM_WEBHOOK_SECRET match the running engine."
            )
        self.stdout.write(
            f"{enrollment.contact} wrote on Telegram: {text!r}; the fake platform posted a "
            f"signed webhook to {web}/webhooks/telegram/ -> HTTP {statuses}"
        )
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            enrollment.refresh_from_db()
            if enrollment.state not in LIVE:
                break
            time.sleep(0.5)
        if enrollment.state in LIVE:
            raise CommandError(
                f"The web process accepted the webhook, but the worker did not process the "
                f"reply within {wait:g} s: is the worker running (`make run` starts it)?"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Enrollment is now '{enrollment.state}': no more follow-ups for "
                f"{enrollment.contact}. See the reply in the inbox and the enrollment in the admin."
            )
        )
