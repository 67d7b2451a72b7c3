"""What every imitated platform on the fake server shares: the fixtures its bodies are
rendered from, the in-memory state (clock, users, outbox, faults) with webhook delivery back
to the engine, and the request plumbing of the routes. Each platform's own module
(meta.py, whatsapp.py, x.py, telegram.py) adds its requests and webhook bodies;
platforms.py puts them together."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from fakeplatform.server import FakePlatformServer, Handler

if TYPE_CHECKING:
    from fakeplatform.platforms import Platforms

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "platforms"
VERSIONS = {"v25.0"}
DAY = 86400.0


def fixture(platform: str, name: str) -> Any:
    return json.loads((FIXTURES / platform / f"{name}.json").read_text())


def bearer(handler: Handler) -> str:
    return handler.headers.get("Authorization", "").removeprefix("Bearer ").strip()


class State:
    """The platforms' shared state; the platform modules' mixins read and add to it."""

    # platform -> the headers that sign (or authenticate) a webhook body with a secret
    SIGNERS: dict[str, Callable[[str, bytes], dict[str, str]]] = {}

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ids = itertools.count(1)
        self._client: httpx.Client | None = None
        self.reset()

    def reset(self) -> None:
        self.offset = 0.0
        self.users: dict[tuple[str, str], dict[str, Any]] = {}
        self.comments: dict[str, dict[str, Any]] = {}
        self.ig_accounts: set[str] = {"me"}
        self.webhooks: dict[str, dict[str, Any]] = {}
        self.errors: list[dict[str, Any]] = []
        self.outbox: list[dict[str, Any]] = []
        self.webhook_log: list[dict[str, Any]] = []
        # Telegram counts message_id per bot and chat: two bots' chats with one person both
        # start at 1.
        self.tg_message_ids: dict[tuple[str, str], int] = {}
        self.wa_templates: dict[str, list[dict[str, Any]]] = {}  # WABA id -> its templates
        self.wa_tiers: dict[str, str] = {}  # phone number id -> messaging_limit_tier
        self.slow: dict[str, float] = {}  # platform -> seconds before answering
        self.x_tokens: dict[str, str] = {}  # X user access token -> that user's id
        self.x_events: list[dict[str, Any]] = []  # every DM event, oldest first
        self.media: dict[str, dict[str, Any]] = {}  # reference -> a file users sent

    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=10)
        return self._client

    def now(self) -> float:
        return time.time() + self.offset

    def user(self, platform: str, uid: str) -> dict[str, Any]:
        return self.users.setdefault(
            (platform, str(uid)),
            {"last_inbound": None, "started": False, "blocked": False, "on_whatsapp": True},
        )

    def take_error(self, platform: str) -> dict[str, Any] | None:
        with self.lock:
            for e in self.errors:
                if e["platform"] == platform and e["times"] > 0:
                    if e.get("after", 0) > 0:  # let this many calls through first
                        e["after"] -= 1
                        return None
                    e["times"] -= 1
                    return fixture(platform, "errors")[e["error"]]
        return None

    # --- webhooks to the engine ----------------------------------------------------

    def deliver(self, platform: str, body: bytes, *, times: int = 1, parallel: bool = False):
        hook = self.webhooks.get(platform)
        if not hook:
            return []
        headers = {"Content-Type": "application/json", "Connection": "close"}
        headers |= self.SIGNERS[platform](hook["secret"], body)
        statuses: list[int] = []
        client = self.client()

        def post() -> None:
            try:
                code = client.post(hook["url"], content=body, headers=headers).status_code
            except httpx.HTTPError:
                code = 0
            with self.lock:
                statuses.append(code)
                self.webhook_log.append(
                    {"platform": platform, "status": code, "body": body.decode()}
                )

        threads = [threading.Thread(target=post) for _ in range(times)]
        for t in threads:
            t.start()
            if not parallel:
                t.join()
        for t in threads:
            t.join()
        return statuses

    def later(self, platform: str, body: bytes, delay: float = 0.05) -> None:
        threading.Timer(delay, self.deliver, args=(platform, body)).start()


class Routes(FakePlatformServer):
    """The plumbing every platform's routes use: record an accepted request, answer an
    error fixture, send a file's bytes."""

    platforms: Platforms

    def _record(self, platform: str, path: str, auth: str, body: dict[str, Any], **extra) -> None:
        with self.platforms.lock:
            self.platforms.outbox.append(
                {"platform": platform, "path": path, "auth": auth, "body": body, "at": time.time()}
                | extra
            )

    def _fail(self, handler: Handler, error: dict[str, Any]) -> None:
        headers = {
            k: v.replace("{reset}", str(int(time.time()) + 60))
            for k, v in error.get("headers", {}).items()
        }
        handler._json(error["status"], error["body"], headers)

    def _media_send(self, handler: Handler, record: dict[str, Any]) -> None:
        """The bytes, or (while its faults last) the platform failing."""
        with self.platforms.lock:
            record["downloads"] += 1
            failing = record["fail"] > 0
            if failing:
                record["fail"] -= 1
        if failing:
            handler._json(record["fail_status"], {"error": "temporarily unavailable"})
            return
        data = record["data"]
        handler.send_response(200)
        handler.send_header("Content-Type", record["content_type"])
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
