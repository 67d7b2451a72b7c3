"""Per-provider hourly caps and "send later" replies, through the real claim and offer.

In-process tests drive the dispatcher's real batches against the fake platform over HTTP;
the two-worker test runs real Celery workers and a dispatcher as separate processes.
"""

import re

import pytest
from django.utils import timezone

from campaigns.services import campaign_launch, enrollments_create
from contacts.models import Identity
from outreach.models import Message, SenderProviderCap
from outreach.provider_caps import provider_of
from outreach.sending.offer import messages_offer
from tests import factories
from tests.engine.harness import Engine, dispatch_in_process, poll_until

HELD = re.compile(r"^Google cap for this sender: 2 per hour, next at \d\d:\d\d UTC$")


def contact_at(n: int, domain: str):
    contact = factories.contact(n, channels=())
    Identity.objects.create(contact=contact, channel="email", value=f"lead{n}@{domain}")
    return contact


def capped_campaign():
    """One sender with a Google cap of 2 per hour; 5 Google recipients (gmail.com and
    googlemail.com count as one provider) and 3 others."""
    sender = factories.sender("Anna")
    SenderProviderCap.objects.create(sender=sender, provider="google", per_hour=2)
    campaign = factories.campaign(senders=[sender])
    domains = ["gmail.com", "googlemail.com", "gmail.com", "gmail.com", "googlemail.com"]
    domains += ["example.com", "outlook.com", "yahoo.co.uk"]
    contacts = [contact_at(n, d) for n, d in enumerate(domains, start=1)]
    enrollments_create(campaign=campaign, contacts=contacts)
    campaign_launch(campaign=campaign)
    return sender


def outcome() -> tuple[list[str], list[Message]]:
    sent = Message.objects.filter(status="sent").select_related("conversation__identity")
    held = Message.objects.filter(status="queued").select_related("conversation__identity")
    return [provider_of(m.conversation.identity.value) for m in sent], list(held)


def test_provider_groups_cover_each_providers_domains():
    assert provider_of("a@GoogleMail.com") == provider_of("b@gmail.com") == "google"
    assert {provider_of(f"x@{d}") for d in ("hotmail.co.uk", "live.fr", "msn.com")} == {"microsoft"}
    assert provider_of("x@aol.com") == provider_of("y@yahoo.de") == "yahoo"
    assert provider_of("x@acme.io") == "acme.io"
    assert provider_of("lead_telegram") == ""


@pytest.mark.django_db
def test_gmail_cap_sends_two_gmail_and_every_other_and_holds_the_rest_with_the_reason(
    fake_email_platform,
):
    capped_campaign()
    dispatch_in_process(ticks=20)
    providers, held = outcome()
    assert sorted(providers) == ["example.com", "google", "google", "microsoft", "yahoo"]
    assert len(held) == 3
    assert all(provider_of(m.conversation.identity.value) == "google" for m in held)
    assert all(HELD.match(m.hold_reason) for m in held), [m.hold_reason for m in held]
    # Held until an hour after the first Google send, then picked up again by the offer.
    first = min(m.sent_at for m in Message.objects.filter(status="sent"))
    assert all(m.not_before and 3599 < (m.not_before - first).total_seconds() <= 3601 for m in held)
    later = first + timezone.timedelta(hours=1, seconds=1)
    assert len(messages_offer(now=later)) == 1
    assert len(fake_email_platform.state.deliveries) == 5


@pytest.mark.live_worker
@pytest.mark.django_db(transaction=True)
def test_two_workers_together_do_not_exceed_the_gmail_cap(log_dir, clean_broker):
    capped_campaign()
    engine = Engine.start(log_dir, workers=2, dispatchers=2)
    try:

        def settled() -> bool:
            providers, held = outcome()
            return len(providers) == 5 and len(held) == 3 and all(m.hold_reason for m in held)

        assert poll_until(settled, timeout=60), outcome()
        providers, held = outcome()
        assert providers.count("google") == 2
        assert all(HELD.match(m.hold_reason) for m in held)
        to_google = [d for d in engine.platform.state.deliveries if provider_of(d.to) == "google"]
        assert len(to_google) == 2
    finally:
        engine.stop()
