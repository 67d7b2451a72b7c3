"""Outgoing webhooks: queue an event for every subscriber, sign, deliver, retry, replay.

Retries are rows with a ``next_attempt_at`` picked up by a periodic task, never long
Celery countdowns (an ETA beyond the broker's visibility timeout runs twice).
Receivers verify ``X-Webhook-Signature: sha256=HEX`` where HEX is
HMAC-SHA256(secret, "<X-Webhook-Timestamp>.<raw body>").
"""

import hashlib
import hmac
import json
import logging
import time
from datetime import datetime, timedelta
from typing import Any

import httpx
from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscriber
from webhooks.targets import RefusedTarget, Target, checked_target

log = logging.getLogger(__name__)
D = WebhookDelivery.Status
# A claimed delivery is leased this long; a worker that died mid-request frees it after.
LEASE = timedelta(seconds=60)


def signature(*, secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def backoff(attempts: int) -> timedelta:
    """Delay before the next try after ``attempts`` failures: base, 2x, 4x ... up to an hour."""
    return timedelta(seconds=min(settings.WEBHOOK_BACKOFF_SECONDS * 2 ** (attempts - 1), 3600))


_MEMO = "_webhook_subscribers_memo"


def _active_subscribers() -> list[WebhookSubscriber]:
    """The active subscribers, read once per transaction: one reply fans out up to five events
    (reply, intent, deal stage changes), each of which read the table again before.

    The list is kept on the connection with an on-commit callback that forgets it. Django
    drops that callback when the transaction (or the savepoint it was registered in) rolls
    back, so the list is only reused while its callback is still pending: within the same
    transaction, never in the next one."""
    conn = transaction.get_connection()
    if not conn.in_atomic_block:
        return list(WebhookSubscriber.objects.filter(active=True))
    memo = getattr(conn, _MEMO, None)
    if memo is not None and any(entry[1] is memo[0] for entry in conn.run_on_commit):
        return memo[1]

    def forget() -> None:
        setattr(conn, _MEMO, None)

    subscribers = list(WebhookSubscriber.objects.filter(active=True))
    transaction.on_commit(forget)
    setattr(conn, _MEMO, (forget, subscribers))
    return subscribers


def subscribers_changed(**kwargs) -> None:
    """A subscriber saved or deleted (webhooks/apps.py connects this): the list read for this
    transaction is read again, so a subscriber added in the same transaction gets its events."""
    setattr(transaction.get_connection(), _MEMO, None)


def webhook_event_wanted(event: str) -> bool:
    """Whether any active subscriber asked for ``event`` (read-only: safe outside a savepoint)."""
    return any(event in (s.events or []) for s in _active_subscribers())


def webhook_event_emit(*, event: str, data: dict) -> list[WebhookDelivery]:
    """Queue ``event`` for every active subscriber that asked for it; delivered after commit."""
    subscribers = [s for s in _active_subscribers() if event in (s.events or [])]
    if not subscribers:
        return []
    now = timezone.now()
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(subscriber=s, event=event, payload=data, next_attempt_at=now)
            for s in subscribers
        ]
    )
    _enqueue([d.id for d in deliveries])
    return deliveries


def webhook_delivery_replay(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send the same event again as a new delivery (the original's log stays as it was)."""
    copy = WebhookDelivery.objects.create(
        subscriber=delivery.subscriber,
        event=delivery.event,
        payload=delivery.payload,
        next_attempt_at=timezone.now(),
        replay_of=delivery,
    )
    _enqueue([copy.id])
    return copy


def _enqueue(ids: list[int]) -> None:
    # robust, and a named function (Django 5.2 logs a failing robust callback by its
    # __qualname__, which functools.partial lacks): a broker outage must not turn the write
    # that queued the delivery into an error. The row is pending; beat's deliver_due_webhooks
    # sends it.
    def publish_deliveries() -> None:
        for delivery_id in ids:
            deliver_webhook.delay(delivery_id)

    if ids:
        transaction.on_commit(publish_deliveries, robust=True)


def body_for(delivery: WebhookDelivery) -> bytes:
    envelope = {
        "id": delivery.id,
        "event": delivery.event,
        "created_at": delivery.created_at.isoformat(),
        "data": delivery.payload,
    }
    return json.dumps(envelope, separators=(",", ":"), sort_keys=True).encode()


def webhook_delivery_attempt(*, delivery_id: int, now: datetime | None = None) -> str:
    """Try one pending, due delivery once. Returns its status afterwards."""
    now = now or timezone.now()
    claimed = WebhookDelivery.objects.filter(
        id=delivery_id, status=D.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=now + LEASE)
    if not claimed:
        return "not due"
    delivery = WebhookDelivery.objects.select_related("subscriber").get(id=delivery_id)
    body = body_for(delivery)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "dmengine-webhooks/1",
        "X-Webhook-Event": delivery.event,
        "X-Webhook-Delivery": str(delivery.id),
        "X-Webhook-Timestamp": timestamp,
        "X-Webhook-Signature": signature(
            secret=delivery.subscriber.secret, timestamp=timestamp, body=body
        ),
    }
    started = time.monotonic()
    code, text, error, refused = None, "", "", False
    try:
        # Resolved and checked now, and sent to the checked address (see webhook_targets).
        target = checked_target(delivery.subscriber.url)
        headers["Host"] = target.netloc
        response = _post(target, content=body, headers=headers)
        code, text = response.status_code, response.text[:2000]
    except RefusedTarget as exc:
        error, refused = f"Not sent: {exc}"[:300], True
    except (httpx.HTTPError, OSError) as exc:  # OSError: the name did not resolve
        error = f"{type(exc).__name__}: {exc}"[:300]
    WebhookAttempt.objects.create(
        delivery=delivery,
        status_code=code,
        response_body=text,
        error=error,
        duration_ms=int((time.monotonic() - started) * 1000),
    )
    return _record(delivery, code, error, now, give_up=refused)


def _post(target: Target, *, content: bytes, headers: dict[str, str]) -> httpx.Response:
    """POST to the first of the target's checked addresses that accepts a connection, in DNS
    order, as a plain connect to the name would."""
    *earlier, last = target.urls
    # Over https the certificate is checked against the name, not the address.
    sni = {"sni_hostname": target.host}
    with httpx.Client(timeout=settings.WEBHOOK_TIMEOUT, follow_redirects=False) as client:
        for url in earlier:
            try:
                return client.post(url, content=content, headers=headers, extensions=sni)
            except httpx.ConnectError:
                continue
        return client.post(last, content=content, headers=headers, extensions=sni)


def _record(
    delivery: WebhookDelivery, code: int | None, error: str, now: datetime, *, give_up: bool
) -> str:
    attempts = delivery.attempts + 1
    fields: dict[str, Any] = {"attempts": attempts, "last_status_code": code, "last_error": error}
    if code is not None and 200 <= code < 300:
        fields |= {"status": D.SUCCEEDED, "delivered_at": now, "next_attempt_at": None}
    elif give_up:  # a refused address stays refused: retrying would only repeat it
        fields |= {"status": D.FAILED, "next_attempt_at": None}
        log.warning("webhook delivery %s not sent: %s", delivery.id, error)
    elif attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        fields |= {"status": D.FAILED, "next_attempt_at": None}
        log.warning("webhook delivery %s gave up after %s attempts", delivery.id, attempts)
    else:
        fields |= {"next_attempt_at": now + backoff(attempts)}
    fields["last_error"] = fields["last_error"] or (f"HTTP {code}" if code and code >= 300 else "")
    WebhookDelivery.objects.filter(id=delivery.id).update(**fields)
    return fields.get("status", D.PENDING)


def webhook_deliveries_due(*, now: datetime | None = None, limit: int = 200) -> list[int]:
    """Ids of pending deliveries whose next attempt is due (the periodic task enqueues them)."""
    now = now or timezone.now()
    return list(
        WebhookDelivery.objects.filter(status=D.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:limit]
    )


# Defined here, next to the deliveries it sends (webhooks/tasks.py imports it for Celery), so
# this module never imports the tasks module that imports it.
@shared_task(name="webhooks.tasks.deliver_webhook", acks_late=True, ignore_result=True)
def deliver_webhook(delivery_id: int) -> str:
    # Safe to run twice: the service claims the delivery row by compare-and-set.
    return webhook_delivery_attempt(delivery_id=delivery_id)
