import zlib
from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.counters import counters_rebuild
from campaigns.dispatch import enrollments_materialize
from campaigns.models import Enrollment, StepSend
from campaigns.services import campaign_launch, enrollments_create
from outreach.models import Message
from pipelines.models import Deal, Pipeline, Stage
from tests import factories

# The fake platform, as the channel tests use it (replies quoting a DM step).
from tests.channels.conftest import control, fake, fake_server, platform_channels  # noqa: F401

M = Message.Status
E = Enrollment.State


def build_campaign(name: str = "Spring", contacts: int = 10, steps: int = 2, senders: int = 1):
    """A launched campaign whose first step went to every contact, with known outcomes:
    contacts 0-5 sent, 0-3 delivered, 0-1 replied, 2 bounced, one deal won (contact 0)."""
    base = zlib.crc32(name.encode()) % 100_000 * 100
    people = [factories.contact(base + n) for n in range(contacts)]
    sender_list = [factories.sender(f"{name} S{i}") for i in range(senders)]
    campaign = factories.campaign(
        senders=sender_list, steps=[("email", 0)] + [("email", 86400)] * (steps - 1), name=name
    )
    enrollments_create(campaign=campaign, contacts=people)
    campaign_launch(campaign=campaign, confirm_warnings=True)
    enrollments_materialize(now=timezone.now(), batch=500)
    links = list(
        StepSend.objects.filter(enrollment__campaign=campaign)
        .select_related("enrollment")
        .order_by("enrollment__contact_id")
    )
    now = timezone.now()
    for i, link in enumerate(links):
        if i < 6:
            status = M.DELIVERED if i < 4 else M.SENT
            if i == 2:
                status = M.FAILED
            Message.objects.filter(id=link.message_id).update(
                status=status,
                sent_at=now - timedelta(hours=1),
                error_code="bounce_5.1.1" if i == 2 else "",
            )
        if i < 2:
            Enrollment.objects.filter(id=link.enrollment_id).update(state=E.REPLIED, replied_at=now)
    pipeline, _ = Pipeline.objects.get_or_create(name="Dashboard tests")
    won, _ = Stage.objects.get_or_create(
        pipeline=pipeline, name="Closed won", defaults={"position": 9, "kind": Stage.Kind.WON}
    )
    Deal.objects.create(contact=people[0], pipeline=pipeline, stage=won, campaign=campaign)
    # The outcomes above were written straight into the rows (as the seeding command does),
    # not through the services that keep the counters: recount, as that command does too.
    counters_rebuild()
    return campaign


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("boss", "boss@example.com", "pw-123456")
    client.force_login(user)
    client.user = user
    return client
