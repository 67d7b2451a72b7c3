"""A fake ESP API on loopback: Postmark (postmark.py) and Mailgun (mailgun.py) answering as
they do, so the email backend sends over real HTTP (ANYMAIL POSTMARK_API_URL /
MAILGUN_API_URL point here). Every accepted send is kept in `outbox`; when `webhooks` names
the engine's tracking URL for an ESP, the ESP then posts its "delivered" event there, signed
as it signs (Postmark: basic auth in the URL only; Mailgun: HMAC of timestamp + token), and
the engine's answer is kept in `webhook_log`."""

import base64
import json
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from fakeplatform import mailgun, postmark


class EspHandler(BaseHTTPRequestHandler):
    server: "EspServer"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = self.path.strip("/").split("/")
        if parts[:2] == ["postmark", "email"]:
            payload = json.loads(body or b"{}")
            token = self.headers.get("X-Postmark-Server-Token", "")
            status, answer = postmark.send(token, payload, self.server.key)
            self.server.accepted(status, "postmark", payload, answer)
        elif parts[:2] == ["mailgun", "v3"] and parts[-1] == "messages":
            fields = self._form(body)
            auth = self.headers.get("Authorization", "")
            status, answer = mailgun.send(auth, parts[2], fields, self.server.key)
            self.server.accepted(status, "mailgun", fields, answer)
        else:
            status, answer = 404, {"message": "not found"}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _form(self, body: bytes) -> dict[str, list[str]]:
        kind = self.headers.get("Content-Type", "")
        if kind.startswith("multipart/form-data"):
            from email.parser import BytesParser
            from email.policy import HTTP

            head = f"Content-Type: {kind}\r\n\r\n".encode()
            msg = BytesParser(policy=HTTP).parsebytes(head + body)
            found: dict[str, list[str]] = {}
            for part in msg.iter_parts():
                name = part.get_param("name", header="content-disposition")
                found.setdefault(str(name), []).append(str(part.get_content()))
            return found
        return parse_qs(body.decode())


class EspServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, key: str = "esp-test-key") -> None:
        super().__init__(("127.0.0.1", 0), EspHandler)
        self.key = key
        self.lock = threading.Lock()
        self.outbox: list[dict[str, Any]] = []
        # esp -> {"url", "auth" ("user:password"), "signing_key" (Mailgun)}
        self.webhooks: dict[str, dict[str, str]] = {}
        self.webhook_log: list[dict[str, Any]] = []

    def accepted(self, status: int, esp: str, request: Any, answer: dict[str, Any]) -> None:
        if status != 200:
            return
        with self.lock:
            self.outbox.append({"esp": esp, "request": request, "answer": answer})
            hook = self.webhooks.get(esp)
        if hook:
            threading.Thread(target=self._deliver, args=(esp, hook, request, answer)).start()

    def _deliver(self, esp: str, hook: dict[str, str], request: Any, answer: dict) -> None:
        if esp == "postmark":
            body: dict[str, Any] = postmark.delivery_webhook(
                message_id=answer["MessageID"], recipient=request["To"]
            )
        else:
            event = mailgun.delivered(message_id=answer["id"], recipient=request["to"][0])
            body = mailgun.sign(hook["signing_key"], event)
        auth = base64.b64encode(hook["auth"].encode()).decode()
        post = urllib.request.Request(
            hook["url"],
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Basic {auth}"},
        )
        try:
            with urllib.request.urlopen(post, timeout=20) as response:
                code = response.status
        except urllib.error.HTTPError as exc:
            code = exc.code
        with self.lock:
            self.webhook_log.append({"esp": esp, "status": code, "at": time.time()})

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> "EspServer":
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
