"""A WhatsApp sender's templates and messaging tier come from Meta's Graph API (here the fake
platform, over HTTP, in Meta's shapes): every page of GET /{waba id}/message_templates is
read, each template stored with its category, status and variables."""

import pytest

from campaigns.dispatch import dispatch_tick
from campaigns.models import Template
from campaigns.services import campaign_launch, enrollments_create
from deliverability.models import WhatsAppAccount, WhatsAppTemplate
from deliverability.tasks import sync_whatsapp_accounts
from deliverability.whatsapp import whatsapp_account_sync
from outreach.models import Message
from outreach.sending.deliver import message_send
from tests import factories
from tests.channels.helpers import platform_sender

pytestmark = pytest.mark.django_db
WABA = "102290129340398"


def _template(n: int, category: str = "UTILITY", status: str = "APPROVED") -> dict:
    return {
        "name": f"order_update_{n}",
        "language": "en_US",
        "status": status,
        "category": category,
        "id": f"5940{n:05d}",
        "components": [
            {"type": "HEADER", "format": "TEXT", "text": "Order {{1}}"},
            {"type": "BODY", "text": "Hi {{1}}, your order from {{2}} ships {{3}}. {{1}}!"},
            {"type": "FOOTER", "text": "Reply STOP to opt out"},
            {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Thanks"}]},
        ],
    }


def _account() -> WhatsAppAccount:
    return WhatsAppAccount.objects.create(
        sender=platform_sender("whatsapp", "1234567890"), waba_id=WABA
    )


def test_sync_reads_every_page_and_stores_category_status_and_variables(platform_channels, control):
    templates = [_template(n) for n in range(130)]
    templates.append(
        {
            "name": "spring_offer",
            "language": "de",
            "status": "PENDING",
            "category": "MARKETING",
            "id": "77",
            "components": [{"type": "BODY", "text": "Hallo {{first_name}}, {{ company }}"}],
        }
    )
    control.post("wa_templates", waba=WABA, templates=templates)
    control.post("wa_tier", phone_number_id="1234567890", tier="TIER_10K")
    account = _account()

    assert whatsapp_account_sync(account=account) == ""

    stored = WhatsAppTemplate.objects.filter(account=account)
    assert stored.count() == 131  # more than one page of 100
    first = stored.get(name="order_update_0")
    assert (first.category, first.status, first.language) == ("UTILITY", "APPROVED", "en_US")
    assert first.variables == ["1", "2", "3"]
    assert [c["type"] for c in first.components] == ["HEADER", "BODY", "FOOTER", "BUTTONS"]
    offer = stored.get(name="spring_offer")
    assert (offer.category, offer.status, offer.variables) == (
        "MARKETING",
        "PENDING",
        ["first_name", "company"],
    )
    account.refresh_from_db()
    assert (account.tier, account.unique_users_per_day) == ("TIER_10K", 10000)
    assert account.synced_at is not None and account.sync_error == ""


def test_a_template_deleted_at_meta_disappears_and_a_status_change_is_seen_by_the_daily_task(
    platform_channels, control
):
    control.post("wa_templates", waba=WABA, templates=[_template(1), _template(2)])
    account = _account()
    whatsapp_account_sync(account=account)
    control.post("wa_templates", waba=WABA, templates=[_template(2, status="REJECTED")])

    assert sync_whatsapp_accounts() == 1

    [left] = WhatsAppTemplate.objects.filter(account=account)
    assert (left.name, left.status) == ("order_update_2", "REJECTED")


def test_an_expired_token_is_kept_on_the_account_as_the_sync_error(platform_channels, control):
    account = _account()
    account.sender.credentials = "expired"
    account.sender.save()
    error = whatsapp_account_sync(account=account)
    account.refresh_from_db()
    assert error and account.sync_error == error and account.synced_at is None


def test_a_steps_template_variables_are_filled_from_the_contacts_fields(platform_channels, control):
    sender = platform_sender("whatsapp", "1234567890")
    campaign = factories.campaign(senders=[sender], steps=[("whatsapp", 0)])
    template = {"type": "template", "name": "order_update_1", "language": "en_US"}
    template |= {"category": "UTILITY", "variables": {"1": "first_name", "2": "company"}}
    Template.objects.filter(steps__sequence=campaign.sequence).update(attachments=[template])
    ana = factories.contact(1, channels=("whatsapp",), tz="UTC", company="Acme")
    ana.identities.update(value="+4915112345678", platform_user_id="4915112345678")
    enrollments_create(campaign=campaign, contacts=[ana])
    campaign_launch(campaign=campaign, confirm_warnings=True)
    dispatch_tick()
    [message] = Message.objects.filter(status=Message.Status.QUEUED)
    assert message_send(message_id=message.id) == "sent"

    [sent] = control.outbox("whatsapp")
    [body] = sent["body"]["template"]["components"]
    assert body["parameters"] == [
        {"type": "text", "text": "Lead1"},
        {"type": "text", "text": "Acme"},
    ]
