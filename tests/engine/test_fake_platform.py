"""The fake platform the crash tests count deliveries on must act like a real server: a worker
killed while writing its request leaves half a request, which must never count as a
delivery (http.server on its own reads cut headers as complete, and a missing body as {})."""

import json
import socket

import pytest

from fakeplatform.server import FakePlatformServer

WHOLE_BODY = json.dumps({"idempotency_key": "k-1", "to": "lead", "body": "Hi"}).encode()
HEADERS = (
    b"POST /v1/messages HTTP/1.1\r\nHost: platform\r\nContent-Type: application/json\r\n"
    b"Content-Length: " + str(len(WHOLE_BODY)).encode() + b"\r\n"
)


@pytest.fixture
def platform():
    server = FakePlatformServer().start()
    yield server
    server.stop()


def send_then_die(platform: FakePlatformServer, data: bytes) -> bytes:
    """Write `data`, then stop writing as a killed process would; return what came back."""
    with socket.create_connection(platform.server_address[:2]) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(5)
        return sock.recv(65536)


@pytest.mark.parametrize(
    "cut",
    [
        pytest.param(HEADERS.split(b"Content-Length")[0], id="headers cut before the length"),
        pytest.param(HEADERS + b"\r\n", id="headers whole, body never written"),
        pytest.param(HEADERS + b"\r\n" + WHOLE_BODY[:10], id="body cut short"),
    ],
)
def test_a_request_cut_short_by_a_killed_worker_is_never_delivered(platform, cut):
    assert send_then_die(platform, cut) == b""  # closed without an answer
    assert platform.state.deliveries == []


def test_a_whole_request_is_delivered(platform):
    answer = send_then_die(platform, HEADERS + b"\r\n" + WHOLE_BODY)
    assert answer.startswith(b"HTTP/1.1 200")
    assert [d.idempotency_key for d in platform.state.deliveries] == ["k-1"]
