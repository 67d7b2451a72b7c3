"""The fake platform server: a threaded HTTP server with an in-memory log of deliveries.

Generic API (the minimal platform the sequence engine is proven against):
  POST /v1/messages            {"idempotency_key", "sender", "to", "body", ...} -> {"id"}
  GET  /v1/messages?idempotency_key=K                      -> {"found": bool, "id"}
  POST /_control/faults        {"status": 429|500|401|400, "count": N, "retry_after": s,
                                "delay": s}   (the next N sends fail that way)
  POST /_control/reset
  GET  /_control/deliveries    -> every accepted message, in arrival order
"""

import json
import threading
import time
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


@dataclass
class Delivery:
    id: str
    idempotency_key: str
    sender: str
    to: str
    body: str
    received_at: float  # time.time() when the request arrived
    finished_at: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Fault:
    status: int
    count: int
    retry_after: float = 1.0
    delay: float = 0.0


class PlatformState:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.deliveries: list[Delivery] = []
        self.by_key: dict[str, Delivery] = {}
        self.posts_per_key: dict[str, int] = {}
        # Key -> when a whole request for it arrived, before any latency or fault: a test can
        # tell "on its way to the platform" from "not sent yet".
        self.arrived: dict[str, float] = {}
        self.faults: list[Fault] = []
        self.latency = 0.0

    def reset(self) -> None:
        with self.lock:
            self.deliveries.clear()
            self.by_key.clear()
            self.posts_per_key.clear()
            self.arrived.clear()
            self.faults.clear()

    def take_fault(self) -> Fault | None:
        with self.lock:
            while self.faults and self.faults[0].count <= 0:
                self.faults.pop(0)
            if not self.faults:
                return None
            self.faults[0].count -= 1
            return self.faults[0]

    def accept(self, payload: dict[str, Any], received_at: float) -> Delivery:
        key = str(payload.get("idempotency_key", ""))
        with self.lock:
            self.posts_per_key[key] = self.posts_per_key.get(key, 0) + 1
            if key and key in self.by_key:
                return self.by_key[key]  # the platform honours idempotency keys
            delivery = Delivery(
                id=f"fp-{len(self.deliveries) + 1}",
                idempotency_key=key,
                sender=str(payload.get("sender", "")),
                to=str(payload.get("to", "")),
                body=str(payload.get("body", "")),
                received_at=received_at,
                extra={
                    k: v
                    for k, v in payload.items()
                    if k not in {"idempotency_key", "sender", "to", "body"}
                },
            )
            self.deliveries.append(delivery)
            if key:
                self.by_key[key] = delivery
            return delivery


class IncompleteRequest(Exception):
    """The request ended before its headers or body did."""


class Handler(BaseHTTPRequestHandler):
    server: "FakePlatformServer"
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes; without this, Nagle + delayed ACK add 40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _raw_body(self, *, required: bool = False) -> bytes:
        """The body's bytes. A client killed while writing (a chaos test's worker) leaves the
        headers or the body cut short, and http.server reads cut headers as complete: such a
        request raises IncompleteRequest, for a real platform never acts on half a request."""
        length = self.headers.get("Content-Length")
        if length is None:
            if required:
                raise IncompleteRequest
            return b""
        raw = self.rfile.read(int(length))
        if len(raw) < int(length):
            raise IncompleteRequest
        return raw

    def _body(self, *, required: bool = False) -> dict[str, Any]:
        return json.loads(self._raw_body(required=required) or b"{}")

    def do_GET(self) -> None:
        url = urlparse(self.path)
        state = self.server.state
        if url.path == "/v1/messages":
            key = parse_qs(url.query).get("idempotency_key", [""])[0]
            with state.lock:
                found = state.by_key.get(key)
            self._json(200, {"found": found is not None, "id": found.id if found else ""})
        elif url.path == "/_control/deliveries":
            with state.lock:
                self._json(200, [asdict(d) for d in state.deliveries])
        elif self.server.extra_get(self, url):
            return
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        try:
            self._post()
        except IncompleteRequest:
            self.close_connection = True  # nobody is left to answer

    def _post(self) -> None:
        received = time.time()
        url = urlparse(self.path)
        state = self.server.state
        if url.path == "/_control/faults":
            body = self._body()
            with state.lock:
                state.faults.append(
                    Fault(
                        status=int(body["status"]),
                        count=int(body["count"]),
                        retry_after=float(body.get("retry_after", 1.0)),
                        delay=float(body.get("delay", 0.0)),
                    )
                )
            self._json(200, {"ok": True})
        elif url.path == "/_control/reset":
            state.reset()
            self._json(200, {"ok": True})
        elif url.path == "/v1/messages":
            payload = self._body(required=True)
            with state.lock:
                state.arrived[str(payload.get("idempotency_key", ""))] = received
            if self.headers.get("Authorization") == "Bearer expired":
                self._json(401, {"error": "token expired"})
                return
            fault = state.take_fault()
            if fault and fault.delay:
                time.sleep(fault.delay)
            if fault and fault.status == 429:
                self._json(429, {"error": "slow down"}, {"Retry-After": str(fault.retry_after)})
                return
            if fault and fault.status >= 500:
                # Accepted, then "crashed" before answering: the classic ambiguous outcome.
                delivery = state.accept(payload, received)
                delivery.finished_at = time.time()
                self._json(fault.status, {"error": "internal error"})
                return
            if fault:
                self._json(fault.status, {"error": f"rejected with {fault.status}"})
                return
            if state.latency:
                time.sleep(state.latency)
            delivery = state.accept(payload, received)
            delivery.finished_at = time.time()
            self._json(200, {"id": delivery.id})
        elif self.server.extra_post(self, url):
            return
        else:
            self._json(404, {"error": "not found"})


class FakePlatformServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        super().__init__((host, port), Handler)
        self.state = PlatformState()
        self._thread: threading.Thread | None = None

    # Platform-specific routes (Meta, WhatsApp, Telegram, X, ...) hook in here.
    def extra_get(self, handler: Handler, url) -> bool:
        return False

    def extra_post(self, handler: Handler, url) -> bool:
        return False

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> "FakePlatformServer":
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
