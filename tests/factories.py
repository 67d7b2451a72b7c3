"""Plain constructors for test data (explicit, no factory library yet)."""

from datetime import UTC, datetime, time, timedelta

from campaigns.models import Campaign, Sequence, Step, Template
from contacts.models import Contact, Identity
from outreach.models import SenderAccount

ALWAYS_OPEN = {"window_days": "0123456", "window_start": time(0), "window_end": time(0)}


def zone_at_midday() -> str:
    """A fixed-offset zone where it is about noon now, for a sender whose daily cap a test
    uses up: its local day cannot end while the test runs (live workers read the real clock,
    so a settable clock cannot help there)."""
    offset = 12 - datetime.now(UTC).hour  # -11 .. +12; Etc/GMT's sign is inverted
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


def contact(n: int = 1, *, channels=("email",), tz: str = "Europe/Berlin", **fields) -> Contact:
    c = Contact.objects.create(
        first_name=fields.pop("first_name", f"Lead{n}"),
        last_name=fields.pop("last_name", "Tester"),
        time_zone=tz,
        **fields,
    )
    for ch in channels:
        value = f"lead{n}@example.com" if ch == "email" else f"lead{n}_{ch}"
        Identity.objects.create(contact=c, channel=ch, value=value)
    return c


def sender(
    name: str = "Sales", *, channel: str = "email", cap: int = 1000, gap=(0.0, 0.0), **fields
) -> SenderAccount:
    window = {**ALWAYS_OPEN, **{k: fields.pop(k) for k in list(fields) if k.startswith("window")}}
    return SenderAccount.objects.create(
        channel=channel,
        name=name,
        handle=f"{name.lower()}@example.com",
        daily_cap=cap,
        min_gap_seconds=gap[0],
        max_gap_seconds=gap[1],
        **window,
        **fields,
    )


def campaign(
    *,
    senders,
    steps=(("email", 0),),
    name: str = "Test campaign",
    body: str = "Hi {{ first_name }}",
) -> Campaign:
    seq = Sequence.objects.create(name=f"{name} sequence")
    for position, (channel, delay) in enumerate(steps, start=1):
        tpl = Template.objects.create(
            name=f"{name} step {position}",
            channel=channel,
            subject="Hello",
            body=f"{body} (step {position})",
        )
        Step.objects.create(
            sequence=seq,
            position=position,
            channel=channel,
            template=tpl,
            delay=timedelta(seconds=delay),
        )
    camp = Campaign.objects.create(name=name, sequence=seq)
    camp.senders.add(*senders)
    return camp
