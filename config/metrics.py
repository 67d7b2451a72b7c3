"""/metrics: Prometheus text, computed from the database and the broker at each scrape.

A custom collector rather than counters kept in each process: every web process answers
the same figures, whichever one the scraper reaches, and a restart loses nothing. Each
figure is one small query on an index (docs/operations.md#metrics lists them).
"""

import hmac
import re
from collections.abc import Iterable, Iterator

import redis
from django.conf import settings
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from config.health import dispatcher_lag
from contacts.models import ContactImport
from outreach.models import InboundEvent, Message, SenderAccount

M = Message.Status
# Recent inbound events and replies the latency figures are taken over.
RECENT_EVENTS = 500
RECENT_REPLIES = 200
# Priority sub-queues kombu's Redis transport keeps beside each queue's list.
REDIS_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")


def hold_kind(reason: str) -> str:
    """A held reason without its particulars (times, counts, names), so the label keeps few
    values: "platform policy: outside ..." -> "platform policy"."""
    head = reason.split(":", 1)[0].split("(", 1)[0]
    return re.sub(r"\s+", " ", re.sub(r"\d+", "", head)).strip()[:60] or "other"


def quantiles(name: str, doc: str, values: list[float]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=["quantile"])
    if values:
        ordered = sorted(values)
        for q in (0.5, 0.99, 1.0):
            family.add_metric([str(q)], ordered[min(int(q * len(ordered)), len(ordered) - 1)])
    return family


def queue_depths() -> dict[str, int]:
    """Messages waiting in each queue's Redis list; nothing for another broker."""
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return {}
    queues = list(dict.fromkeys([*settings.READY_QUEUES, "celery"]))
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        pipe = client.pipeline(transaction=False)
        for q in queues:
            for suffix in REDIS_PRIORITY_SUFFIXES:
                pipe.llen(q + suffix)
        lengths = pipe.execute()
    finally:
        client.close()
    n = len(REDIS_PRIORITY_SUFFIXES)
    return {q: sum(lengths[i * n : (i + 1) * n]) for i, q in enumerate(queues)}


class EngineCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        yield from self.messages()
        yield from self.queues()
        yield from self.latencies()
        yield from self.imports_and_senders()

    def messages(self) -> Iterable[Metric]:
        by_outcome = GaugeMetricFamily(
            "dm_messages",
            "Messages in each status, by channel and direction",
            labels=["channel", "direction", "status"],
        )
        rows = Message.objects.order_by().values_list("channel", "direction", "status")
        for channel, direction, status, n in rows.annotate(n=Count("id")):
            by_outcome.add_metric([channel, direction, status], n)
        yield by_outcome
        held = GaugeMetricFamily(
            "dm_messages_held", "Queued or paused messages waiting, by reason", labels=["reason"]
        )
        kinds: dict[str, int] = {}
        waiting = Message.objects.filter(status__in=[M.QUEUED, M.PAUSED]).exclude(hold_reason="")
        for reason, n in waiting.order_by().values_list("hold_reason").annotate(n=Count("id")):
            kinds[hold_kind(reason)] = kinds.get(hold_kind(reason), 0) + n
        for kind, n in sorted(kinds.items()):
            held.add_metric([kind], n)
        yield held

    def queues(self) -> Iterable[Metric]:
        depth = GaugeMetricFamily(
            "dm_queue_depth", "Tasks waiting in each broker queue (Redis only)", labels=["queue"]
        )
        try:
            for queue, n in queue_depths().items():
                depth.add_metric([queue], n)
            up = 1
        except redis.RedisError:
            up = 0
        yield depth
        yield GaugeMetricFamily("dm_broker_up", "1 if the broker answered this scrape", value=up)
        yield GaugeMetricFamily(
            "dm_dispatcher_lag_seconds",
            "Age of the oldest due step of a running campaign not yet dispatched",
            value=dispatcher_lag(),
        )

    def latencies(self) -> Iterable[Metric]:
        now = timezone.now()
        pending = (
            InboundEvent.objects.filter(processed_at=None, quarantined_at=None)
            .order_by("received_at")  # the inbound_event_pending partial index
            .values_list("received_at", flat=True)
            .first()
        )
        yield GaugeMetricFamily(
            "dm_inbound_oldest_pending_seconds",
            "Age of the oldest inbound event not yet processed",
            value=(now - pending).total_seconds() if pending else 0.0,
        )
        recent = InboundEvent.objects.exclude(processed_at=None).order_by("-id")[:RECENT_EVENTS]
        lags = [
            (processed - received).total_seconds()
            for received, processed in recent.values_list("received_at", "processed_at")
            if processed is not None
        ]
        yield quantiles(
            "dm_inbound_lag_seconds",
            f"Webhook received -> processed, over the last {RECENT_EVENTS} processed events",
            lags,
        )
        # Recording a reply stops the contact's sequences in the same transaction
        # (outreach/inbound/apply.py, campaigns/services.py), so "recorded" is "stopped".
        replies = (
            Message.objects.filter(direction=Message.Direction.INBOUND)
            .order_by("-id")  # the primary key, backwards: the latest replies first
            .values_list("sent_at", "created_at")[:RECENT_REPLIES]
        )
        stops = [
            max((recorded - replied).total_seconds(), 0.0)
            for replied, recorded in replies
            if replied is not None
        ]
        yield quantiles(
            "dm_reply_to_stop_seconds",
            f"A contact's message (the platform's time of it) -> recorded and their sequences"
            f" stopped, over the last {RECENT_REPLIES} inbound messages",
            stops,
        )

    def imports_and_senders(self) -> Iterable[Metric]:
        now = timezone.now()
        rate = GaugeMetricFamily(
            "dm_import_rows_per_second",
            "Rows per second of each running CSV import",
            labels=["import_id"],
        )
        running = ContactImport.objects.filter(status=ContactImport.Status.RUNNING)
        for pk, done, started in running.values_list("id", "records_done", "started_at"):
            seconds = (now - started).total_seconds() if started else 0.0
            rate.add_metric([str(pk)], done / seconds if seconds > 0 else 0.0)
        yield rate
        paused = GaugeMetricFamily(
            "dm_senders_paused",
            "Paused sender accounts, by channel and health",
            labels=["channel", "health"],
        )
        rows = SenderAccount.objects.filter(paused=True).order_by()
        for channel, health, n in rows.values_list("channel", "health").annotate(n=Count("id")):
            paused.add_metric([channel, health], n)
        yield paused


def registry() -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(EngineCollector())
    return reg


def token_matches(request: HttpRequest, token: str) -> bool:
    given = request.headers.get("Authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


@require_GET
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404  # not configured: the endpoint does not exist
    if not token_matches(request, token):
        response = HttpResponse("bearer token required\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
