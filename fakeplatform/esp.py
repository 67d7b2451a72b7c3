"""A fake ESP API on loopback: Postmark (postmark.py), Mailgun (mailgun.py), SendGrid
(sendgrid.py) and Brevo (brevo.py) answering as they do, so the email backend sends over real
HTTP (ANYMAIL <ESP>_API_URL point here). Every accepted send is kept in `outbox`; when
`webhooks` names the engine's tracking URL for an ESP, the ESP then posts its "delivered"
event there, signed as it signs (Postmark and Brevo: basic auth in the URL only; Mailgun:
HMAC of timestamp + token; SendGrid: ECDSA over timestamp + body with `sendgrid_signer`), and
the engine's answer is kept in `webhook_log`. Amazon SES's API v2 and SNS's
ConfirmSubscription answer under /aws/ (ses.py), for boto3 with that endpoint_url."""

import base64
import json
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from fakeplatform import brevo, mailgun, postmark, sendgrid, ses


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
        elif parts == ["sendgrid", "v3", "mail", "send"]:
            payload = json.loads(body or b"{}")
            auth = self.headers.get("Authorization", "")
            status, answer = sendgrid.send(auth, payload, self.server.key)
            self.server.accepted(status, "sendgrid", payload, answer)
        elif parts[:1] == ["aws"] and parts[-3:] == ["v2", "email", "outbound-emails"]:
            payload = json.loads(body or b"{}")
            auth = self.headers.get("Authorization", "")
            status, answer = ses.send(auth, payload, self.server.ses_key_id)
            self.server.accepted(status, "amazon_ses", payload, answer)
        elif parts[:1] == ["aws"] and b"Action=ConfirmSubscription" in body:
            confirmed, xml = ses.confirm_subscription(body)
            with self.server.lock:
                self.server.sns_confirmed.append(confirmed)
            self._answer(200, xml, "text/xml")
            return
        elif parts == ["brevo", "v3", "smtp", "email"]:
            payload = json.loads(body or b"{}")
            status, answer = brevo.send(self.headers.get("api-key", ""), payload, self.server.key)
            self.server.accepted(status, "brevo", payload, answer)
        else:
            status, answer = 404, {"message": "not found"}
        self._answer(status, b"" if answer is None else json.dumps(answer).encode())

    def _answer(self, status: int, data: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
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
        # SendGrid's Event Webhook key pair; its public_key is our verification key.
        self.sendgrid_signer = sendgrid.Signer()
        # Amazon SES: the account's access key id (any secret: the signature's form is
        # checked, not recomputed), and the SNS subscriptions confirmed through the API.
        self.ses_key_id = "AKIAFAKEESPTEST00001"
        self.sns_confirmed: list[dict[str, str]] = []

    def accepted(self, status: int, esp: str, request: Any, answer: Any) -> None:
        if status not in (200, 201, 202):
            return
        with self.lock:
            self.outbox.append({"esp": esp, "request": request, "answer": answer})
            hook = self.webhooks.get(esp)
        if hook:
            threading.Thread(target=self._deliver, args=(esp, hook, request, answer)).start()

    def _deliver(self, esp: str, hook: dict[str, str], request: Any, answer: Any) -> None:
        headers = {"Content-Type": "application/json"}
        body: Any
        if esp == "postmark":
            body = postmark.delivery_webhook(
                message_id=answer["MessageID"], recipient=request["To"]
            )
        elif esp == "sendgrid":
            [person] = request["personalizations"]
            body = [
                sendgrid.event(
                    "delivered",
                    anymail_id=person["custom_args"]["anymail_id"],
                    email=person["to"][0]["email"],
                    response="250 OK",
                )
            ]
        elif esp == "brevo":
            body = brevo.event(
                "delivered", message_id=answer["messageId"], email=request["to"][0]["email"]
            )
        else:
            event = mailgun.delivered(message_id=answer["id"], recipient=request["to"][0])
            body = mailgun.sign(hook["signing_key"], event)
        data = json.dumps(body).encode()
        if esp == "sendgrid":
            headers.update(self.sendgrid_signer.headers(data))
        auth = base64.b64encode(hook["auth"].encode()).decode()
        post = urllib.request.Request(
            hook["url"], data=data, headers={**headers, "Authorization": f"Basic {auth}"}
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
