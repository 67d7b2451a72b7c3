"""What the inbound benchmarks share: the engine as production runs it (gunicorn serving the
WSGI app over HTTP, Celery workers on the real broker, production settings: DEBUG off), the
replies a contact's mail client writes, posted with the inbound-email webhook's secret, and
when each reply was applied (the worker's transaction that stops the contact's sequence sets
the event's processed_at: outreach/inbound/process.py)."""

from __future__ import annotations

import contextlib
import http.client
import shutil
import socket
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

from bench.bench_send import child_env, purge, start_worker
from config.queues import BULK, DISPATCH, HUMAN, INBOUND, QUEUES, SEND
from outreach.models import InboundEvent
from tests.processes import BIN, Proc, free_port, wait_for

WEBHOOK_SECRET = "bench-inbound-" + uuid.uuid4().hex
POSTERS = 4  # client connections posting at once, as a platform's delivery workers do

# Which Celery workers the engine runs: (name, queues, processes) each.
Workers = list[tuple[str, tuple[str, ...], int]]
# Two single-process workers on every queue, as `make run`'s one worker would share them.
ALL_QUEUES: Workers = [("inbound0", QUEUES, 1), ("inbound1", QUEUES, 1)]
# The README's "Workers per queue" on one machine: the urgent queues apart, so an import or a
# send batch never takes a reply's place.
BY_URGENCY: Workers = [
    ("urgent", (INBOUND, HUMAN), 2),
    ("send", (SEND, DISPATCH), 1),
    ("bulk", (BULK,), 1),
]


def engine_env(database_url: str) -> dict[str, str]:
    env = child_env(database_url)
    env.pop("CHANNEL_BACKEND", None)  # the real email backend: it checks the webhook secret
    env.update(
        PLATFORM_BACKENDS="true",
        EMAIL_WEBHOOK_SECRET=WEBHOOK_SECRET,
        # Campaign mail handed to Django's in-memory outbox: nothing leaves the machine.
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
    )
    return env


@contextlib.contextmanager
def engine(
    database_url: str, *, workers: Workers = ALL_QUEUES, dispatcher: bool = False
) -> Iterator[str]:
    """gunicorn (2 processes) and the Celery workers (and a dispatcher); yields the web base
    URL. Everything started is stopped on the way out, the queues purged."""
    env = engine_env(database_url)
    log_dir = Path(env.get("TMPDIR", "/tmp")) / f"bench_inbound_{uuid.uuid4().hex[:8]}"
    log_dir.mkdir(parents=True)
    port = free_port()
    procs: list[Proc] = []
    ok = False
    purge()
    try:
        procs.append(
            Proc(
                "web",
                [
                    str(BIN / "gunicorn"),
                    "config.wsgi",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    "2",
                    "--threads",
                    "4",
                    "--log-level",
                    "warning",
                ],
                env,
                log_dir,
            )
        )
        procs += [start_worker(name, env, log_dir, queues, n) for name, queues, n in workers]
        wait_until_answering(procs[1:])
        if dispatcher:
            procs.append(
                Proc(
                    "dispatcher",
                    [str(BIN / "python"), "manage.py", "run_dispatcher", "--interval", "0.2"],
                    env,
                    log_dir,
                )
            )
        wait_for(lambda: _answers(port) or not procs[0].alive(), 60, 0.2, "gunicorn to answer")
        if not procs[0].alive():
            raise RuntimeError(f"gunicorn died:\n{procs[0].log()[-3000:]}")
        yield f"127.0.0.1:{port}"
        for proc in procs:
            if not proc.alive():
                raise RuntimeError(f"{proc.name} died during the run:\n{proc.log()[-3000:]}")
        ok = True
    finally:
        for proc in procs:
            proc.stop()
        purge()
        if ok:  # the logs are kept only when something went wrong
            shutil.rmtree(log_dir, ignore_errors=True)


def wait_until_answering(procs: list[Proc]) -> None:
    """Every worker answers a remote-control ping: it is connected and consuming, whichever
    queues it serves."""
    from config.celery import app

    names = {f"{proc.name}@{socket.gethostname()}" for proc in procs}

    def all_answer() -> bool:
        for proc in procs:
            if not proc.alive():
                raise RuntimeError(f"{proc.name} died:\n{proc.log()[-3000:]}")
        replies = app.control.ping(destination=sorted(names), timeout=1.0)
        return names <= {name for reply in replies for name in reply}

    wait_for(all_answer, 120, 0.5, "workers to answer")


def _answers(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/webhooks/email/")
        conn.getresponse().read()
        conn.close()
        return True
    except OSError:
        return False


def reply(frm: str, to: str, text: str = "Thanks, tell me more. Can we talk on Tuesday?") -> bytes:
    """A plain-text reply as a mail client writes it."""
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = frm, to, "Re: Quick question"
    mail["Date"] = formatdate(localtime=True)
    mail["Message-ID"] = f"<reply-{uuid.uuid4().hex}@example.com>"
    mail.set_content(text)
    return mail.as_bytes()


def post_all(
    address: str, bodies: list[bytes], posters: int = POSTERS, rate: float = 0
) -> list[int]:
    """POST every body to the inbound-email webhook over `posters` keep-alive connections;
    the HTTP statuses, in no particular order. Raises if one answered other than 200.

    rate: bodies per second, the i-th posted no earlier than i / rate seconds after the
    first, as replies arrive one after another; 0 posts them all as fast as the
    connections go (a burst)."""
    statuses: list[int] = []
    lock = threading.Lock()
    queue = list(reversed(bodies))
    host, port = address.split(":")
    started = time.monotonic()

    def poster() -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        while True:
            with lock:
                if not queue:
                    break
                at = (len(bodies) - len(queue)) / rate if rate else 0.0
                body = queue.pop()
            time.sleep(max(0.0, started + at - time.monotonic()))
            conn.request(
                "POST",
                "/webhooks/email/",
                body=body,
                headers={"X-Webhook-Secret": WEBHOOK_SECRET, "Content-Type": "message/rfc822"},
            )
            response = conn.getresponse()
            response.read()
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=60)
            with lock:
                statuses.append(response.status)
        conn.close()

    threads = [threading.Thread(target=poster) for _ in range(posters)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bad = [s for s in statuses if s != 200]
    if bad or len(statuses) != len(bodies):
        raise RuntimeError(f"{len(bad)} webhooks answered other than 200: {sorted(set(bad))}")
    return statuses


def wait_processed(n: int, timeout: float) -> None:
    """Until n inbound events are processed; a quarantined one fails the benchmark."""
    done = InboundEvent.objects.filter(processed_at__isnull=False)
    quarantined = InboundEvent.objects.filter(quarantined_at__isnull=False)

    def finished() -> bool:
        if quarantined.exists():
            errors = list(quarantined.values_list("error", flat=True)[:3])
            raise RuntimeError(f"inbound events quarantined: {errors}")
        return done.count() >= n

    wait_for(finished, timeout, 0.1, f"{n} inbound events processed")


def latencies(event_ids: list[int] | None = None) -> list[float]:
    """Seconds from webhook receipt (the event stored) to the reply applied, sorted."""
    events = InboundEvent.objects.filter(processed_at__isnull=False)
    if event_ids is not None:
        events = events.filter(id__in=event_ids)
    return sorted(
        (processed - received).total_seconds()
        for received, processed in events.values_list("received_at", "processed_at")
        if processed is not None
    )


def median_p99(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, max(0, round(0.99 * len(ordered)) - 1))]
    return statistics.median(ordered), p99


def elapsed_since(started: float) -> float:
    return time.perf_counter() - started
