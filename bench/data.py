"""Benchmark data built fast: bulk inserts of contacts, identities and due enrollments."""

from datetime import time, timedelta

from django.db import transaction
from django.utils import timezone

from campaigns.models import Campaign, Enrollment, Sequence, Step, Template
from contacts.models import Contact, Identity
from outreach.models import SenderAccount

BATCH = 5000
ALWAYS_OPEN = {"window_days": "0123456", "window_start": time(0), "window_end": time(0)}


def senders(count: int, *, cap: int = 1_000_000, gap: float = 0.0) -> list[SenderAccount]:
    return SenderAccount.objects.bulk_create(
        [
            SenderAccount(
                channel="email",
                name=f"Bench sender {i}",
                handle=f"sender{i}@bench.example.com",
                daily_cap=cap,
                min_gap_seconds=gap,
                max_gap_seconds=gap,
                **ALWAYS_OPEN,
            )
            for i in range(count)
        ]
    )


def campaign(
    sender_accounts: list[SenderAccount], *, name: str = "Bench", status: str = "running"
) -> Campaign:
    seq = Sequence.objects.create(name=f"{name} sequence")
    template = Template.objects.create(
        name=f"{name} opener",
        channel="email",
        subject="Quick question, {{ first_name }}",
        body="Hi {{ first_name }}, saw {{ company }} is hiring. Worth a chat?",
    )
    Step.objects.create(
        sequence=seq, position=1, channel="email", template=template, delay=timedelta(0)
    )
    camp = Campaign.objects.create(name=name, sequence=seq, status=status)
    camp.senders.add(*sender_accounts)
    return camp


def due_enrollments(
    camp: Campaign, n: int, *, first: int = 0, due_in: timedelta = timedelta(minutes=-5)
) -> None:
    """n contacts with an email identity each (lead<first>@…, lead<first + 1>@…), all
    enrolled and due `due_in` from now (due already by default)."""
    due_at = timezone.now() + due_in
    for start in range(first, first + n, BATCH):
        stop = min(start + BATCH, first + n)
        with transaction.atomic():
            contacts = Contact.objects.bulk_create(
                [
                    Contact(
                        first_name=f"Lead{i}",
                        last_name="Bench",
                        company=f"Company {i % 997}",
                        time_zone="Europe/Berlin",
                    )
                    for i in range(start, stop)
                ]
            )
            Identity.objects.bulk_create(
                [
                    Identity(contact=c, channel="email", value=f"lead{i}@bench.example.com")
                    for i, c in zip(range(start, stop), contacts, strict=True)
                ]
            )
            Enrollment.objects.bulk_create(
                [Enrollment(campaign=camp, contact=c, next_action_at=due_at) for c in contacts]
            )
