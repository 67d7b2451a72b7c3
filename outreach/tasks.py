import random
import socket
import uuid

from celery import shared_task


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def send_messages(message_ids: list[int]) -> dict[int, str]:
    # Safe to deliver twice or late: the service claims each row under its lock.
    from outreach.sending.deliver import messages_send

    return messages_send(message_ids=message_ids)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def send_replies(message_ids: list[int]) -> dict[int, str]:
    # A rep's replies from the inbox: the same claim and limits as send_messages, on the
    # `human` queue (config/queues.py) so they never wait behind campaign batches.
    from outreach.sending.deliver import messages_send

    return messages_send(message_ids=message_ids)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def send_message(message_id: int) -> str:
    # Tasks queued by an earlier version, and one-off sends.
    from outreach.sending.deliver import message_send

    return message_send(message_id=message_id)


@shared_task(ignore_result=True)
def worker_heartbeat(token: str = "") -> None:
    from outreach.models import WorkerHeartbeat

    WorkerHeartbeat.objects.create(token=token or uuid.uuid4().hex, hostname=socket.gethostname())


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=30)
def process_inbound_event(self, event_id: int) -> str:
    # Idempotent: the service takes the row only while it is unprocessed. One that keeps
    # losing lock conflicts is tried again in a second or two; past max_retries the sweeper
    # still takes it (it is unprocessed, with no error recorded).
    from outreach.inbound.process import CONFLICT, inbound_event_process

    outcome = inbound_event_process(event_id=event_id)
    if outcome == CONFLICT:
        raise self.retry(countdown=random.uniform(0.5, 2.0))
    return outcome


@shared_task(ignore_result=True)
def sweep_inbound_events() -> int:
    from outreach.inbound.process import inbound_events_sweep

    return inbound_events_sweep()


@shared_task(ignore_result=True)
def poll_mailboxes() -> int:
    """Beat: one poll task per email sender with an IMAP host, and per DM sender whose
    platform is read by polling (X without webhooks)."""
    from outreach.dmpoll import dm_poll_senders
    from outreach.mailbox import mailbox_senders

    ids = list(mailbox_senders().values_list("id", flat=True))
    for sender_id in ids:
        poll_mailbox.delay(sender_id)
    dm_ids = list(dm_poll_senders().values_list("id", flat=True))
    for sender_id in dm_ids:
        poll_dms.delay(sender_id)
    return len(ids) + len(dm_ids)


@shared_task(ignore_result=True)
def poll_dms(sender_id: int) -> int:
    # Safe to run twice: events are unique on the platform's event id.
    import logging

    from outreach.channels.base import ChannelError
    from outreach.dmpoll import dm_poll, dm_poll_senders

    sender = dm_poll_senders().filter(id=sender_id).first()
    if sender is None:
        return 0
    try:
        return dm_poll(sender=sender)
    except ChannelError as exc:
        logging.getLogger(__name__).warning("DM poll of %s: %s", sender.handle, exc.reason)
        return 0


@shared_task(ignore_result=True)
def poll_mailbox(sender_id: int) -> int:
    # Safe to run twice: events are unique on Message-ID and the cursor only saves progress.
    import logging

    from outreach.mailbox import MailboxError, mailbox_poll, mailbox_senders

    sender = mailbox_senders().filter(id=sender_id).first()
    if sender is None:
        return 0
    try:
        return mailbox_poll(sender=sender)
    except MailboxError as exc:
        logging.getLogger(__name__).warning("mailbox %s: %s", sender.handle, exc)
        return 0


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=None)
def fetch_inbound_media(self, message_id: int) -> str:
    """Download an inbound message's attachments; what may work later (network errors,
    5xx) is tried again after INBOUND_MEDIA_RETRY_SECONDS, doubling, and recorded as failed
    on the last of INBOUND_MEDIA_ATTEMPTS. Safe to run twice: an entry is fetched once."""
    from django.conf import settings

    from outreach.inbound_media import FetchLater, inbound_media_fetch

    attempt = self.request.retries + 1
    try:
        return inbound_media_fetch(
            message_id=message_id, last_try=attempt >= settings.INBOUND_MEDIA_ATTEMPTS
        )
    except FetchLater as exc:
        delay = settings.INBOUND_MEDIA_RETRY_SECONDS * 2 ** (attempt - 1)
        raise self.retry(exc=exc, countdown=delay) from exc


@shared_task(ignore_result=True)
def sweep_inbound_media() -> int:
    from outreach.inbound_media import inbound_media_sweep

    return inbound_media_sweep()
