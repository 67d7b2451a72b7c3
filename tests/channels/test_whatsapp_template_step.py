"""A sequence step built in the builder with a WABA template synced from Meta (here the fake
platform) sends that template with each variable filled as the step maps it, in the Graph
API's ``template.components[].parameters`` shape; an empty field sends its fallback."""

import pytest

from campaigns.dispatch import dispatch_tick
from campaigns.models import Campaign, Sequence
from campaigns.services import campaign_launch, enrollments_create
from deliverability.models import WhatsAppAccount, WhatsAppTemplate
from deliverability.whatsapp import whatsapp_account_sync
from outreach.models import Message
from outreach.sending.deliver import message_send
from tests import factories
from tests.api.conftest import make_user
from tests.channels.helpers import platform_sender
from tests.channels.test_whatsapp_templates import WABA, _template
from tests.sequences.test_builder import form, step

pytestmark = pytest.mark.django_db
NAMED = {
    "name": "spring_offer",
    "language": "de",
    "status": "APPROVED",
    "category": "MARKETING",
    "id": "77",
    "components": [{"type": "BODY", "text": "Hallo {{first_name}}, {{company}} hat Neues"}],
}


def _synced(owner) -> WhatsAppAccount:
    sender = platform_sender("whatsapp", "1234567890")
    sender.owner = owner
    sender.save(update_fields=["owner"])
    account = WhatsAppAccount.objects.create(sender=sender, waba_id=WABA)
    assert whatsapp_account_sync(account=account) == ""
    return account


def _built(client, template: WhatsAppTemplate, mapping: dict) -> Sequence:
    fields = {f"var_{v}_{part}": value for (v, part), value in mapping.items()}
    steps = {"s1": step("whatsapp", 0, "days", wa_template=str(template.pk)) | fields}
    assert client.post("/sequences/new/", form("WA", steps, save="1")).status_code == 302
    return Sequence.objects.get(name="WA")


def _sent_parameters(control, sequence: Sequence, sender, contacts) -> list[list[dict]]:
    campaign = Campaign.objects.create(name="WA campaign", sequence=sequence)
    campaign.senders.add(sender)
    enrollments_create(campaign=campaign, contacts=contacts)
    campaign_launch(campaign=campaign, confirm_warnings=True)
    dispatch_tick()
    for message in Message.objects.filter(status=Message.Status.QUEUED).order_by("id"):
        assert message_send(message_id=message.id) == "sent"
    sent = control.outbox("whatsapp")
    return [r["body"]["template"]["components"][0]["parameters"] for r in sent]


def _contact(n: int, number: str, **fields):
    person = factories.contact(n, channels=("whatsapp",), tz="UTC", **fields)
    person.identities.update(value=f"+{number}", platform_user_id=number)
    return person


def test_a_steps_waba_template_sends_each_variable_as_mapped_with_its_fallback(
    platform_channels, control, client
):
    ann = make_user("ann", "rep")
    control.post("wa_templates", waba=WABA, templates=[_template(1)])
    account = _synced(ann)
    template = WhatsAppTemplate.objects.get(account=account, name="order_update_1")
    client.force_login(ann)
    sequence = _built(
        client,
        template,
        {
            ("1", "source"): "first_name",
            ("1", "fallback"): "there",
            ("2", "source"): "custom",
            ("2", "text"): "shop",
            ("2", "fallback"): "our shop",
            ("3", "source"): "text",
            ("3", "text"): "today",
        },
    )
    ana = _contact(1, "4915112345678", custom_fields={"shop": "Acme Berlin"})
    nameless = _contact(2, "4915112345679", first_name="")

    params = _sent_parameters(control, sequence, account.sender, [ana, nameless])

    assert params == [
        [
            {"type": "text", "text": "Lead1"},
            {"type": "text", "text": "Acme Berlin"},
            {"type": "text", "text": "today"},
        ],
        [
            {"type": "text", "text": "there"},
            {"type": "text", "text": "our shop"},
            {"type": "text", "text": "today"},
        ],
    ]
    sent = [r["body"]["template"] for r in control.outbox("whatsapp")]
    assert {(t["name"], t["language"]["code"]) for t in sent} == {("order_update_1", "en_US")}
    # The inbox keeps the text as the contact got it.
    first = Message.objects.get(conversation__identity__contact=ana)
    assert first.body == "Hi Lead1, your order from Acme Berlin ships today. Lead1!"


def test_named_variables_go_with_their_parameter_name(platform_channels, control, client):
    ann = make_user("ann", "rep")
    control.post("wa_templates", waba=WABA, templates=[NAMED])
    account = _synced(ann)
    [template] = WhatsAppTemplate.objects.filter(account=account)
    client.force_login(ann)
    sequence = _built(
        client,
        template,
        {
            ("first_name", "source"): "first_name",
            ("company", "source"): "company",
            ("company", "fallback"): "Ihr Team",
        },
    )
    person = _contact(1, "4915112345678", company="Acme")

    [params] = _sent_parameters(control, sequence, account.sender, [person])

    # Named parameters are matched by name (their order in the request does not matter).
    assert sorted(params, key=lambda p: p["parameter_name"]) == [
        {"type": "text", "parameter_name": "company", "text": "Acme"},
        {"type": "text", "parameter_name": "first_name", "text": "Lead1"},
    ]
