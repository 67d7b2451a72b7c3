import socket
import uuid

from celery import shared_task


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def send_message(message_id: int) -> str:
    # Safe to deliver twice or late: the service claims the row by compare-and-set.
    from outreach.services import message_send

    return message_send(message_id=message_id)


@shared_task(ignore_result=True)
def worker_heartbeat(token: str = "") -> None:
    from outreach.models import WorkerHeartbeat

    WorkerHeartbeat.objects.create(token=token or uuid.uuid4().hex, hostname=socket.gethostname())


@shared_task(acks_late=True, ignore_result=True)
def process_inbound_event(event_id: int) -> str:
    # Idempotent: the service takes the row only while it is unprocessed.
    from outreach.inbound import inbound_event_process

    return inbound_event_process(event_id=event_id)


@shared_task(ignore_result=True)
def sweep_inbound_events() -> int:
    from outreach.inbound import inbound_events_sweep

    return inbound_events_sweep()
