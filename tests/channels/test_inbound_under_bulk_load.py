"""Queues by urgency (config/queues.py): a reply is handled at once even while long imports
fill the only bulk worker and more wait behind it."""

import pytest

from campaigns.models import Enrollment
from contacts.imports import contact_import_create, contact_import_start
from contacts.models import ContactImport, Identity
from tests import factories
from tests.channels.conftest import SECRETS
from tests.channels.helpers import platform_sender
from tests.processes import wait_for

pytestmark = [pytest.mark.live_worker]
IMPORTS, ROWS = 4, 50_000  # a long backlog for one bulk worker, on either database


def queue_imports() -> list[int]:
    ids = []
    for n in range(IMPORTS):
        lines = [b"email,first_name\n"]
        lines += [f"p{n}-{i}@example.com,P{i}\n".encode() for i in range(ROWS)]
        imp = contact_import_create(
            name=f"big{n}.csv", chunks=iter([b"".join(lines)]), default_country="DE"
        )
        contact_import_start(contact_import=imp, mapping=imp.mapping)
        ids.append(imp.pk)
    return ids


def test_a_reply_is_processed_at_once_while_imports_fill_the_bulk_worker(
    live_server, worker_factory, platform_channels, control
):
    worker_factory("bulk", concurrency=1, queues=["bulk"])
    worker_factory("inbound", concurrency=1, queues=["inbound"])

    platform_sender("telegram", "acme_bot")
    email_sender = factories.sender("Anna", channel="email")
    camp = factories.campaign(senders=[email_sender], steps=(("email", 0), ("email", 3600)))
    contact = factories.contact(1, channels=("email", "telegram"))
    Identity.objects.filter(contact=contact, channel="telegram").update(platform_user_id="4241")
    enrollment = Enrollment.objects.create(
        campaign=camp, contact=contact, state="waiting", current_step=2
    )
    control.post(
        "webhooks",
        platform="telegram",
        url=f"{live_server.url}/webhooks/telegram/",
        secret=SECRETS["telegram"],
    )

    imports = ContactImport.objects.filter(id__in=queue_imports())
    wait_for(
        lambda: imports.filter(status="running").exists(),
        60,
        message="the bulk worker to start the first import",
    )

    said = control.post("say", platform="telegram", user="4241", account="acme_bot", text="Yes")
    assert said["statuses"] == [200]
    wait_for(
        lambda: Enrollment.objects.get(id=enrollment.id).state == "replied",
        20,
        message="the reply to stop the contact's follow-up",
    )
    # The reply overtook the bulk backlog: imports queued before it have not even started.
    assert imports.filter(status="queued").exists(), list(imports.values_list("status", flat=True))
