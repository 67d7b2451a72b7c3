"""A WhatsApp step can send one of the WABA's synced templates: the builder shows where it is
picked its category, language and status, and one row per variable to map to a contact
field, a custom field or fixed text with a fallback; the mapping is stored on the step. Only
templates of WhatsApp accounts the user may use are offered or accepted."""

import pytest
from django.utils import timezone

from campaigns.models import Sequence
from deliverability.models import WhatsAppAccount, WhatsAppTemplate
from tests import factories
from tests.api.conftest import make_user
from tests.sequences.test_builder import form, step

pytestmark = pytest.mark.django_db
BODY = "Hi {{1}}, your order from {{2}} ships {{3}}."


def waba_template(owner, name="order_update", category="UTILITY", status="APPROVED"):
    sender = factories.sender(f"{name} number", channel="whatsapp", owner=owner)
    sender.handle = f"10{sender.pk}"
    sender.save(update_fields=["handle"])
    account = WhatsAppAccount.objects.create(sender=sender, waba_id=f"waba{sender.pk}")
    return WhatsAppTemplate.objects.create(
        account=account,
        name=name,
        language="en_US",
        category=category,
        status=status,
        components=[{"type": "BODY", "text": BODY}],
        variables=["1", "2", "3"],
        synced_at=timezone.now(),
    )


def _mapping() -> dict:
    """A step card's mapping fields (form() prefixes them with the card's key)."""
    return {
        "var_1_source": "first_name",
        "var_1_fallback": "there",
        "var_2_source": "custom",
        "var_2_text": "shop",
        "var_2_fallback": "our shop",
        "var_3_source": "text",
        "var_3_text": "today",
    }


def test_picking_a_whatsapp_template_shows_its_category_language_status_and_variables(client):
    ann = make_user("ann", "rep")
    template = waba_template(ann, category="MARKETING", status="PENDING")
    client.force_login(ann)
    steps = {"s1": step("whatsapp", 0, "days", wa_template=str(template.pk))}
    page = client.post("/sequences/new/", form("Spring", steps, refresh="s1")).content.decode()

    assert "order_update · Marketing · en_US · Pending" in page  # the option itself
    assert '<dd class="col-8 col-md-2 wa-category">Marketing</dd>' in page
    assert '<dd class="col-8 col-md-2 wa-language">en_US</dd>' in page
    assert '<dd class="col-8 col-md-2 wa-status">Pending</dd>' in page
    assert "Meta sends only approved templates: this one is pending." in page
    for v in ("1", "2", "3"):
        assert f'name="s1-var_{v}_source"' in page and f'name="s1-var_{v}_fallback"' in page
    assert not Sequence.objects.exists()  # showing the variables saves nothing


def test_the_variables_mapping_is_stored_on_the_step_and_shown_back(client):
    ann = make_user("ann", "rep")
    template = waba_template(ann)
    client.force_login(ann)
    steps = {"s1": step("whatsapp", 0, "days", wa_template=str(template.pk)) | _mapping()}
    response = client.post("/sequences/new/", form("Orders", steps, save="1"))
    assert response.status_code == 302

    [saved] = Sequence.objects.get(name="Orders").steps.all()
    assert saved.whatsapp_template == template
    assert saved.whatsapp_variables == {
        "1": {"source": "first_name", "text": "", "fallback": "there"},
        "2": {"source": "custom", "text": "shop", "fallback": "our shop"},
        "3": {"source": "text", "text": "today", "fallback": ""},
    }
    # Its text beside it is the template's body, Meta's variables written as [n].
    assert saved.template.body == "Hi [1], your order from [2] ships [3]."
    page = client.get(f"/sequences/{saved.sequence_id}/").content.decode()
    assert '<option value="custom" selected>' in page
    assert 'name="s1-var_2_text" value="shop"' in page


def test_a_fixed_text_or_custom_field_without_its_text_is_refused_on_the_step(client):
    ann = make_user("ann", "rep")
    template = waba_template(ann)
    client.force_login(ann)
    mapping = _mapping() | {"var_3_text": ""}
    steps = {"s1": step("whatsapp", 0, "days", wa_template=str(template.pk)) | mapping}
    page = client.post("/sequences/new/", form("Orders", steps, save="1")).content.decode()
    assert "Write the text to send." in page
    assert not Sequence.objects.exists()


def test_only_templates_of_whatsapp_accounts_the_user_may_use_are_offered_or_accepted(client):
    ann, bob = make_user("ann", "rep"), make_user("bob", "rep")
    mine = waba_template(ann, name="ann_update")
    theirs = waba_template(bob, name="bob_secret_offer")
    client.force_login(ann)
    steps = {"s1": step("whatsapp", 0, "days", wa_template=str(mine.pk))}
    page = client.post("/sequences/new/", form("x", steps, refresh="s1")).content.decode()
    assert "ann_update" in page and "bob_secret_offer" not in page

    forged = {"s1": step("whatsapp", 0, "days", wa_template=str(theirs.pk), body="Hi")}
    page = client.post("/sequences/new/", form("Forged", forged, save="1")).content.decode()
    assert "bob_secret_offer" not in page
    assert not Sequence.objects.filter(name="Forged").exists()


def test_a_whatsapp_template_on_an_email_step_is_refused(client):
    ann = make_user("ann", "rep")
    template = waba_template(ann)
    client.force_login(ann)
    steps = {"s1": step("email", 0, "days", wa_template=str(template.pk), body="Hi") | _mapping()}
    page = client.post("/sequences/new/", form("Mixed", steps, save="1")).content.decode()
    assert "A WhatsApp template goes only with a WhatsApp step." in page
    assert not Sequence.objects.exists()
