"""GDPR erasure leaves none of the person's values anywhere: a contact with rich data, made
through the paths users and platforms use, is erased through the API; then every text and
JSON column of every table, the stored sessions, and every file under VAR_DIR (the media
root and the import uploads) are scanned for each of their values."""

import json
import time
from pathlib import Path

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.db.models import Count

from campaigns.models import Enrollment
from campaigns.privacy import DELIVERY_CANCELLED
from campaigns.services import enrollment_pause
from campaigns.triggers.models import Trigger, TriggerFire
from contacts.imports import contact_import_preview
from contacts.models import Contact, ContactImport, ContactImportError, Suppression
from contacts.services import ERASED_REASON
from outreach.inbox.models import ConversationNote
from outreach.models import Conversation, InboundEvent, Message
from outreach.sending.deliver import message_send
from pipelines.models import Deal, DealStageChange, Pipeline, Stage
from tests import factories
from tests.channels.conftest import control, fake, fake_server, platform_channels  # noqa: F401
from tests.channels.helpers import deliver, platform_sender, process_all
from tests.contacts.conftest import run_file, upload
from webhooks.models import WebhookDelivery, WebhookEvent, WebhookSubscriber
from webhooks.services import webhook_deliveries_due, webhook_delivery_attempt

pytestmark = pytest.mark.django_db

FIRST, LAST, COMPANY = "Zyxwquartz", "Quartzberg", "Zyxwcorp"
EMAIL = "zyxw.quartz@example.org"
PHONE = "+41791234567"
PHONE_AS_WRITTEN = "+41 79 123 45 67"
CHAT_ID = "987654321012"  # Telegram
TG_HANDLE, IG_HANDLE, X_HANDLE = "zyxwquartz_tg", "zyxwquartz_ig", "zyxwquartz_x"
IGSID, X_ID = "17841400055566677", "1555000111222"
VALUES = [
    FIRST,
    LAST,
    COMPANY,
    EMAIL,
    PHONE,
    PHONE.lstrip("+"),  # WhatsApp's wa_id
    PHONE_AS_WRITTEN,
    CHAT_ID,
    TG_HANDLE,
    IG_HANDLE,
    X_HANDLE,
    IGSID,
    X_ID,
]
HEADER = "email,whatsapp,first_name,last_name,company,telegram,instagram,country\n"
PERSON_ROW = f"{EMAIL},{PHONE_AS_WRITTEN},{FIRST},{LAST},{COMPANY},{TG_HANDLE},{IG_HANDLE},ZZ\n"
OTHER_ROW = "ada@example.net,+4915112345678,Ada,Lovelace,Analytical,,,GB\n"
MAPPING = ["email", "whatsapp", "first_name", "last_name", "company", "telegram", "instagram"]


@pytest.fixture
def var_dir(settings, tmp_path) -> Path:
    """This test's own VAR_DIR (the media root, the import uploads), so the file scan reads
    only what this test made."""
    path = tmp_path / "var"
    path.mkdir()
    settings.VAR_DIR = path
    settings.MEDIA_ROOT = path
    return path


def _telegram_update() -> dict:
    person = {"id": int(CHAT_ID), "first_name": FIRST, "last_name": LAST, "username": TG_HANDLE}
    return {
        "update_id": 70001,
        "message": {
            "message_id": 11,
            "date": int(time.time()),
            "chat": person | {"type": "private"},
            "from": person | {"is_bot": False},
            "text": f"price? {FIRST} here",
        },
    }


def _whatsapp_message(phone: str = PHONE, name: str = f"{FIRST} {LAST}", n: int = 1) -> dict:
    wa_id = phone.lstrip("+")
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "972123456789", "phone_number_id": "1122334455667"},
        "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
        "messages": [
            {
                "from": wa_id,
                "id": f"wamid.zyxw{n}",
                "timestamp": str(int(time.time())),
                "text": {"body": f"Call me on {phone}"},
                "type": "text",
            }
        ],
    }
    changes = [{"value": value, "field": "messages"}]
    return {"object": "whatsapp_business_account", "entry": [{"id": "42", "changes": changes}]}


def _instagram_comment() -> dict:
    value = {
        "id": "17865799348089777",
        "from": {"id": IGSID, "username": IG_HANDLE},
        "text": "price please",
        "media": {"id": "18017788111111111", "media_product_type": "FEED"},
    }
    changes = [{"field": "comments", "value": value}]
    entry = {"id": "IG_ID", "time": 1730000000, "changes": changes}
    return {"object": "instagram", "entry": [entry]}


def _admin_change(client, contact: Contact) -> None:
    """Give the contact a title and an X identity in the admin (a LogEntry names both)."""
    identities = list(contact.identities.order_by("id"))
    consents = list(contact.consent_records.order_by("id"))
    data = {
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "company": contact.company,
        "title": "Head of Zyxw",
        "time_zone": contact.time_zone,
        "country": contact.country,
        "locale": contact.locale,
        "custom_fields": json.dumps(contact.custom_fields),
        "owner": "",
        "identities-TOTAL_FORMS": str(len(identities) + 1),
        "identities-INITIAL_FORMS": str(len(identities)),
        "consent_records-TOTAL_FORMS": str(len(consents)),
        "consent_records-INITIAL_FORMS": str(len(consents)),
    }
    for i, identity in enumerate(identities):
        data |= {
            f"identities-{i}-id": identity.id,
            f"identities-{i}-contact": contact.id,
            f"identities-{i}-channel": identity.channel,
            f"identities-{i}-value": identity.value,
            f"identities-{i}-platform_user_id": identity.platform_user_id,
        }
    new = len(identities)
    data |= {
        f"identities-{new}-contact": contact.id,
        f"identities-{new}-channel": "x",
        f"identities-{new}-value": X_HANDLE,
        f"identities-{new}-platform_user_id": X_ID,
    }
    for i, consent in enumerate(consents):
        data |= {f"consent_records-{i}-id": consent.id, f"consent_records-{i}-contact": contact.id}
    response = client.post(f"/admin/contacts/contact/{contact.id}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]


@pytest.fixture
def rich_contact(client, django_user_model, platform_channels, control, var_dir, tmp_path):  # noqa: F811
    """One person known through every path that stores personal data."""
    boss = django_user_model.objects.create_superuser("boss", "boss@corp.example", "pw-123456")
    client.force_login(boss)
    # An outgoing webhook subscriber: the events below queue deliveries about the person.
    WebhookSubscriber.objects.create(
        url="https://hooks.example.com/crm", events=[e.value for e in WebhookEvent]
    )
    # A CSV import (finished: its file stays on disk) and one uploaded but not started.
    done = tmp_path / "leads.csv"
    done.write_text(HEADER + PERSON_ROW + OTHER_ROW)
    imp = run_file(done, mapping=[*MAPPING, "country"])
    assert imp.status == "done", imp.message
    assert ContactImportError.objects.filter(contact_import=imp).exists()  # country ZZ
    waiting = tmp_path / "more-leads.csv"
    waiting.write_text(HEADER + PERSON_ROW + OTHER_ROW)
    assert upload(waiting).status == ContactImport.Status.UPLOADED
    contact = Contact.objects.get(first_name=FIRST)

    # A trigger on the Telegram bot: reply, open a deal.
    bot = platform_sender("telegram", "zyxw_bot", "111:token")
    stage = Stage.objects.create(
        pipeline=Pipeline.objects.create(name="Inbound"), name="New", position=1
    )
    Trigger.objects.create(
        name="Price",
        channel="telegram",
        sender=bot,
        event_type="dm",
        keywords="price",
        reply_body="Thanks {{ first_name }}!",
        deal_stage=stage,
    )
    platform_sender("whatsapp", "1122334455667")
    platform_sender("instagram", "IG_ID")
    # Signed inbound webhooks: platform ids land on identities, events and messages.
    assert deliver(client, "telegram", _telegram_update()) == 200
    assert deliver(client, "whatsapp", _whatsapp_message()) == 200
    assert deliver(client, "instagram", _instagram_comment()) == 200
    assert process_all() == ["reply", "reply", "comment"]
    # The trigger's reply goes out through the fake Telegram (its id embeds the chat id).
    control.post("users", platform="telegram", id=CHAT_ID, started=True)
    reply = Message.objects.get(channel="telegram", direction="out")
    assert message_send(message_id=reply.id) == "sent"
    assert CHAT_ID in Message.objects.get(id=reply.id).provider_message_id

    # A rep's note in the inbox, and an admin change.
    conversation = Conversation.objects.get(identity__contact=contact, sender=bot)
    note = f"{FIRST} prefers {PHONE_AS_WRITTEN} or {EMAIL}"
    assert client.post(f"/inbox/{conversation.id}/note/", {"body": note}).status_code == 302
    _admin_change(client, contact)
    # A campaign enrolment a user paused: the audit trail names it "<contact> in <campaign>".
    campaign = factories.campaign(senders=[bot], steps=(("telegram", 0),))
    enrollment = Enrollment.objects.create(campaign=campaign, contact=contact)
    enrollment_pause(enrollment=enrollment, actor=boss)

    assert TriggerFire.objects.filter(contact=contact).exists()
    assert Deal.objects.filter(contact=contact).exists()
    pending = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING)
    assert any(PHONE in json.dumps(d.payload) for d in pending)
    return contact


def _db_leaks(values: list[str]) -> set[str]:
    """table.column: value, for every text, varchar and JSON column of every table."""
    found = set()
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() "
            "AND data_type IN ('text', 'character varying', 'character', 'json', 'jsonb')"
        )
        columns = cursor.fetchall()
        for table, column in columns:
            cursor.execute(f"SELECT DISTINCT {q(column)}::text FROM {q(table)}")
            for (text,) in cursor.fetchall():
                for value in values:
                    if text and value.lower() in text.lower():
                        found.add(f"{table}.{column}: {value}")
        # Bytes as received (an inbound event's raw body).
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND data_type = 'bytea'"
        )
        for table, column in cursor.fetchall():
            cursor.execute(f"SELECT {q(column)} FROM {q(table)}")
            for (raw,) in cursor.fetchall():
                text = bytes(raw or b"").decode("utf-8", "replace").lower()
                found |= {f"{table}.{column}: {v}" for v in values if v.lower() in text}
    # Sessions are stored signed and compressed: read them as Django does.
    for session in Session.objects.all():
        text = json.dumps(session.get_decoded(), default=str).lower()
        found |= {f"session: {v}" for v in values if v.lower() in text}
    return found


def _file_leaks(root: Path, values: list[str]) -> set[str]:
    found = set()
    for path in root.rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode("utf-8", "replace").lower()
            found |= {f"{path.name}: {v}" for v in values if v.lower() in text}
    return found


def _counts() -> dict:
    """What dashboards count: erasure keeps every one of them."""
    return {
        "contacts": Contact.objects.count(),
        "messages": list(
            Message.objects.values_list("direction", "status")
            .annotate(n=Count("id"))
            .order_by("direction", "status")
        ),
        "message_rows": Message.objects.count(),
        "enrollments": Enrollment.objects.count(),
        "deals": Deal.objects.count(),
        "deal_moves": DealStageChange.objects.count(),
        "trigger_fires": TriggerFire.objects.count(),
        "inbound_events": InboundEvent.objects.count(),
        "webhook_deliveries": WebhookDelivery.objects.count(),
        "imports": list(
            ContactImport.objects.order_by("id").values_list("created", "failed", "warnings")
        ),
    }


def test_after_erase_no_table_column_session_or_file_holds_the_persons_values(
    client, rich_contact, var_dir
):
    before = _db_leaks(VALUES)
    # The scan sees what is there: every kind of place the person was written to.
    for place in [
        "contacts_contact.first_name",
        "contacts_identity.platform_user_id",
        "outreach_inboundevent.payload",
        "outreach_inboundevent.raw",
        "outreach_message.provider_message_id",
        "outreach_conversationnote.body",
        "outreach_auditentry.target_repr",
        "campaigns_webhookdelivery.payload",
        "django_admin_log.object_repr",
        "contacts_contactimporterror.row",
    ]:
        assert any(leak.startswith(place) for leak in before), place
    assert _file_leaks(var_dir, VALUES)
    counts = _counts()

    response = client.post(f"/api/v1/privacy/contacts/{rich_contact.id}/erase/")

    assert response.status_code == 200
    assert _db_leaks(VALUES) == set()
    assert _file_leaks(var_dir, VALUES) == set()
    assert _counts() == counts
    # What stays instead: a peppered hash per address, which the scan cannot read back.
    assert Suppression.objects.filter(reason=ERASED_REASON).count() == 5
    assert not ConversationNote.objects.exists()
    assert not WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING).exists()
    assert WebhookDelivery.objects.filter(last_error=DELIVERY_CANCELLED).exists()


def test_an_import_still_waiting_keeps_its_other_rows_and_the_finished_one_loses_its_file(
    client, rich_contact, var_dir
):
    finished, waiting = ContactImport.objects.order_by("id")

    client.post(f"/api/v1/privacy/contacts/{rich_contact.id}/erase/")

    assert not Path(finished.path).exists()
    finished.refresh_from_db()
    assert (finished.created, finished.warnings) == (2, 1)  # the counts stay
    preview = contact_import_preview(contact_import=waiting).preview
    assert [row for row in preview if any(row)] == [OTHER_ROW.strip().split(",")]


def test_a_pending_webhook_delivery_about_the_erased_person_is_never_sent(
    client,
    django_user_model,
    platform_channels,  # noqa: F811
    receiver,
    settings,
):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]  # the receiver is on loopback
    client.force_login(django_user_model.objects.create_superuser("boss", "b@corp.example", "pw"))
    WebhookSubscriber.objects.create(url=receiver.url, events=[WebhookEvent.REPLY_RECEIVED])
    platform_sender("whatsapp", "1122334455667")
    erased = Contact.objects.create(first_name=FIRST, last_name=LAST)
    erased.identities.create(channel="whatsapp", value=PHONE)
    other = Contact.objects.create(first_name="Ada", last_name="Lovelace")
    other.identities.create(channel="whatsapp", value="+4915112345678")
    assert deliver(client, "whatsapp", _whatsapp_message()) == 200
    assert deliver(client, "whatsapp", _whatsapp_message("+4915112345678", "Ada", n=2)) == 200
    assert process_all() == ["reply", "reply"]
    # Both replies wait for the delivery loop (their after-commit send never ran here).
    assert WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING).count() == 2

    assert client.post(f"/api/v1/privacy/contacts/{erased.id}/erase/").status_code == 200
    for delivery_id in webhook_deliveries_due():
        webhook_delivery_attempt(delivery_id=delivery_id)

    bodies = [body.decode() for _, body in receiver.requests]
    assert len(bodies) == 1 and "+4915112345678" in bodies[0]  # the loop works: Ada's went
    assert not any(PHONE.lstrip("+") in b or FIRST in b for b in bodies)


# Where the export shows each table that can hold the person (campaigns/privacy.py).
EXPORTED = {
    "contacts_contact": "contact",
    "contacts_identity": "identities",
    "contacts_consentrecord": "consent_records",
    "contacts_suppression": "suppressions",
    "contacts_contactimporterror": "import_rows",
    "outreach_conversation": "conversations",
    "outreach_message": "messages",
    "outreach_messageevent": "message_events",
    "outreach_conversationnote": "notes",
    "outreach_inboundevent": "inbound_events",
    "outreach_auditentry": "audit_entries",
    "campaigns_dealstagechange": "deal_history",
    "campaigns_triggerfire": "trigger_fires",
    "campaigns_capturerequest": "captured_answers",
    "campaigns_webhookdelivery": "webhook_deliveries",
    "django_admin_log": "admin_log",
}


def test_the_export_shows_every_table_the_scan_finds_the_person_in(client, rich_contact):
    found: dict[str, set[str]] = {}
    for leak in _db_leaks(VALUES):
        column, value = leak.split(": ", 1)
        found.setdefault(column.split(".")[0], set()).add(value.lower())

    response = client.get(f"/api/v1/privacy/contacts/{rich_contact.id}/export/")

    assert response.status_code == 200
    data = response.json()
    assert set(found) <= set(EXPORTED), "a table holds the person but is not in the export"
    for table, values in found.items():
        section = json.dumps(data[EXPORTED[table]]).lower()
        assert any(v in section for v in values), table
