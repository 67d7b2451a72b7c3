"""Celery queues by urgency, and which task goes to which: the one place routing is decided.

A reply must not wait behind a million-row import (issue 21: Chatwoot's inbound webhooks
waited 30-60 minutes behind deletion jobs on a shared queue). Each queue can get its own
workers, on one machine or many (README "Workers per queue"); `make run` runs one worker
for all of them. tests/foundation/test_task_routes.py fails for a task not listed here, so a
new task cannot land unseen on Celery's default queue, which no worker consumes.
"""

INBOUND = "inbound"  # a contact wrote: store, classify, stop follow-ups (seconds matter)
HUMAN = "human"  # a rep's reply from the inbox: someone is waiting for it
SEND = "send"  # campaign send batches and outgoing webhooks (the dispatcher paces them)
DISPATCH = "dispatch"  # short periodic ticks that decide what to send or retry next
BULK = "bulk"  # long jobs: imports, retention, daily account and DNS checks

QUEUES = (INBOUND, HUMAN, SEND, DISPATCH, BULK)

ROUTES: dict[str, dict[str, str]] = {
    name: {"queue": queue}
    for queue, names in {
        INBOUND: (
            "outreach.tasks.process_inbound_event",
            "outreach.tasks.sweep_inbound_events",
            "outreach.tasks.poll_mailboxes",
            "outreach.tasks.poll_mailbox",
            "outreach.tasks.poll_dms",
            # Attachments a rep opens in the inbox; a slow download times out, and retries
            # wait on the broker with a countdown rather than in a worker.
            "outreach.tasks.fetch_inbound_media",
            "outreach.tasks.sweep_inbound_media",
        ),
        HUMAN: ("outreach.tasks.send_replies",),
        SEND: (
            "outreach.tasks.send_messages",
            "outreach.tasks.send_message",
            "webhooks.tasks.deliver_webhook",
            "bench.noop.noop_done",  # bench/bench_send.py's baseline: the same path as sends
        ),
        DISPATCH: (
            "campaigns.tasks.dispatch_tick",
            "webhooks.tasks.deliver_due_webhooks",
            "outreach.tasks.worker_heartbeat",
            # Finds imports whose worker was lost and queues them again on `bulk`: short, and
            # must not wait behind the very bulk backlog it is there to rescue.
            "contacts.tasks.sweep_lost_imports",
        ),
        BULK: (
            "contacts.tasks.contact_import_run_task",
            "campaigns.tasks.blank_old_message_bodies",
            "deliverability.tasks.sync_whatsapp_accounts",
            "deliverability.tasks.check_sending_domains",
        ),
    }.items()
    for name in names
}
