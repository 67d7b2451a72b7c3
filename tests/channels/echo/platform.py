"""The Echo platform: takes sends from a bot and, when a user answers, posts the signed
webhook to the engine."""

import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from outreach.channels import http
from tests.channels.echo import WEBHOOK_KEY

TOKEN = "echo-bot-token"


class EchoPlatform:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.ids = itertools.count(1)
        self.lock = threading.Lock()
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path != "/send" or self.headers["Authorization"] != f"Bearer {TOKEN}":
                    self._answer(401, {"error": "bad token"})
                    return
                with platform.lock:
                    sent = {**body, "id": f"echo-{next(platform.ids)}"}
                    platform.sent.append(sent)
                self._answer(200, {"id": sent["id"]})

            def _answer(self, status: int, data: dict[str, Any]) -> None:
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "EchoPlatform":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def user_answers(self, webhook_url: str, *, user: str, bot: str, text: str) -> int:
        """The user writes back to the bot's last message to them: a signed webhook."""
        last = [s for s in self.sent if s["to"] == user][-1]
        body = json.dumps(
            {
                "id": f"in-{next(self.ids)}",
                "from": user,
                "to": bot,
                "text": text,
                "reply_to": last["id"],
            }
        ).encode()
        signature = http.hmac_hex(WEBHOOK_KEY, body)
        r = httpx.post(
            webhook_url,
            content=body,
            headers={"Content-Type": "application/json", "X-Echo-Signature": signature},
        )
        return r.status_code
