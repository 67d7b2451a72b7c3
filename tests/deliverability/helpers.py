"""Set-up shared by the guard tests (test_guards.py, test_domain_pause.py) and the sender
health page's (test_sender_health_page.py): a lead's email conversation with a sender, the
sender's earlier sends written as history rows (sending hundreds of mails through the SMTP
path would only slow the suite), and a queued email."""

from datetime import timedelta

from django.utils import timezone

from contacts.models import Contact, Identity
from outreach.models import Message, MessageEvent, SenderAccount
from outreach.sending.create import conversations_for, messages_create


def lead_conversation(sender: SenderAccount, address: str):
    contact = Contact.objects.create(first_name="Lead")
    identity = Identity.objects.create(contact=contact, channel="email", value=address)
    return conversations_for({(identity.id, sender.id)})[(identity.id, sender.id)]


def sent_earlier(
    sender: SenderAccount, sends: int, bounces: int = 0, *, address: str | None = None
) -> None:
    """What the sender sent over the past days: sent messages with their "sent" events, the
    first `bounces` of them hard-bounced; all to one lead, at `address` when given."""
    conv = lead_conversation(sender, address or f"earlier-{sender.id}@example.org")
    at = timezone.now() - timedelta(days=2)
    messages = Message.objects.bulk_create(
        Message(
            conversation=conv,
            sender=sender,
            channel="email",
            direction="out",
            status="sent",
            subject="Earlier",
            body="Hi",
            sent_at=at,
        )
        for _ in range(sends)
    )
    MessageEvent.objects.bulk_create(MessageEvent(message=m, status="sent") for m in messages)
    if bounces:
        MessageEvent.objects.bulk_create(
            MessageEvent(message=m, status="failed", detail="bounce_5.1.1")
            for m in messages[:bounces]
        )


def queued_email(sender: SenderAccount, address: str, subject: str = "Next") -> Message:
    [message] = messages_create(
        [
            Message(
                conversation=lead_conversation(sender, address),
                sender=sender,
                channel="email",
                direction="out",
                status="queued",
                subject=subject,
                body="Hi",
            )
        ]
    )
    return message
