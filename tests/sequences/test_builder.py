"""The sequence builder saves steps in the order the cards were posted, takes delays in
human units, refuses text that does not compile and other teams' templates, and an edit of
a running campaign's sequence changes its steps in place and lands in its history."""

import re
from datetime import timedelta

import pytest
from django.utils.html import escape

from campaigns.models import (
    Campaign,
    Enrollment,
    Sequence,
    Step,
    StepSend,
    Template,
    TemplateVersion,
)
from campaigns.rendering import TemplateError, compile_template
from campaigns.sequence_builder import SequenceError, StepSpec, sequence_save
from core.audit import AuditEntry
from outreach.models import Conversation, Message
from tests.api.conftest import make_user
from tests.triggers.teams import two_teams  # noqa: F401

pytestmark = pytest.mark.django_db


def form(name: str, steps: dict[str, dict], order: list[str] | None = None, **extra) -> dict:
    data: dict = {"name": name, "description": "", "step": order or list(steps), **extra}
    for key, fields in steps.items():
        data |= {f"{key}-{k}": v for k, v in fields.items()}
    return data


def step(channel: str, value: int, unit: str, template: str = "new", **fields) -> dict:
    return {
        "channel": channel,
        "delay_value": value,
        "delay_unit": unit,
        "condition": "no_reply",
        "on_refused": "hold",
        "template": template,
        **fields,
    }


def test_a_three_step_sequence_saved_after_a_reorder_gets_positions_one_to_three(client):
    ann = make_user("ann", "rep")
    nudge = Template.objects.create(name="Nudge", channel="telegram", body="Ping {{ first_name }}")
    client.force_login(ann)
    steps = {
        "s1": step("email", 0, "days", subject="Hi {{ first_name }}", body="Hello there"),
        "s2": step("telegram", 3, "hours", template=str(nudge.pk)),
        "s3": step("email", 2, "days", name="Last call", body="Still keen?"),
    }
    # The third card was dragged above the second: the posted order is the new order.
    response = client.post("/sequences/new/", form("Spring", steps, ["s1", "s3", "s2"], save="1"))
    assert response.status_code == 302
    sequence = Sequence.objects.get(name="Spring")
    assert response["Location"] == f"/sequences/{sequence.pk}/"
    saved = list(sequence.steps.order_by("position"))
    assert [(s.position, s.channel) for s in saved] == [(1, "email"), (2, "email"), (3, "telegram")]
    assert [s.delay for s in saved] == [timedelta(0), timedelta(days=2), timedelta(hours=3)]
    assert saved[2].template == nudge
    assert saved[1].template.name == "Last call" and saved[1].template.body == "Still keen?"
    assert saved[0].template.name == "Spring · step 1"
    assert saved[0].template.subject == "Hi {{ first_name }}"
    assert saved[0].template.created_by == ann
    assert TemplateVersion.objects.filter(template=saved[0].template, number=1).exists()
    assert sequence.created_by == ann
    assert AuditEntry.objects.filter(action="sequence.create", target_id=sequence.pk).exists()
    page = client.get(f"/sequences/{sequence.pk}/").content.decode()
    assert 'name="s3-delay_value" value="3"' in page  # shown back as 3 hours
    listing = client.get("/sequences/").content.decode()
    assert "after 3 hours: Telegram" in listing and "after 2 days: Email" in listing


def test_the_up_button_without_javascript_moves_the_step_and_saves_nothing(client):
    client.force_login(make_user("ann", "rep"))
    steps = {
        "s1": step("email", 0, "days", body="One"),
        "s2": step("telegram", 1, "weeks", body="Two"),
    }
    page = client.post("/sequences/new/", form("Moved", steps, move="s2:up")).content.decode()
    assert page.index('value="s2"') < page.index('value="s1"')
    added = client.post("/sequences/new/", form("Moved", steps, add="1")).content.decode()
    assert 'name="step" value="s3"' in added
    assert not Sequence.objects.exists()


def test_a_message_that_does_not_compile_is_refused_with_its_error(client):
    client.force_login(make_user("ann", "rep"))
    bad = "Hi {{ first_name "
    with pytest.raises(TemplateError) as caught:
        compile_template(bad)
    steps = {"s1": step("email", 0, "days", body=bad)}
    response = client.post("/sequences/new/", form("Broken", steps, save="1"))
    assert response.status_code == 200
    assert escape(str(caught.value)) in response.content.decode()
    assert not Sequence.objects.exists() and not Template.objects.exists()


def test_another_teams_template_is_refused(
    client,
    two_teams,  # noqa: F811
):
    theirs = Template.objects.create(name="B only", body="Hi", team=two_teams.b.team)
    client.force_login(two_teams.a.rep)
    assert "B only" not in client.get("/sequences/new/").content.decode()
    steps = {"s1": step("email", 0, "days", template=str(theirs.pk))}
    response = client.post("/sequences/new/", form("Sneaky", steps, save="1"))
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Sequence.objects.filter(name="Sneaky").exists()
    # The service checks again, whoever calls it.
    spec = StepSpec(channel="email", delay=timedelta(0), template_id=theirs.pk)
    with pytest.raises(SequenceError, match="choose one of your templates"):
        sequence_save(
            sequence=None, name="Sneaky", description="", steps=[spec], actor=two_teams.a.rep
        )


def test_editing_a_running_campaigns_sequence_changes_steps_in_place_and_logs_it(
    client,
    two_teams,  # noqa: F811
):
    campaign = two_teams.a.campaign
    first = campaign.sequence.steps.get()
    assert first.delay == timedelta(seconds=3600)
    client.force_login(two_teams.a.rep)
    page = client.get(f"/sequences/{campaign.sequence.pk}/").content.decode()
    assert "1 launched campaign runs this sequence" in page
    steps = {
        "s1": step("messenger", 2, "hours", template=str(first.template_id), id=first.pk),
        "s2": step("messenger", 1, "days", body="Any news, {{ first_name }}?"),
    }
    response = client.post(f"/sequences/{campaign.sequence.pk}/", form("Seq A", steps, save="1"))
    assert response.status_code == 302
    # Steps are not versioned (campaigns/versions.py): the same row, so its sends stay on it.
    first.refresh_from_db()
    assert first.delay == timedelta(hours=2) and first.position == 1
    assert campaign.sequence.steps.count() == 2
    history = set(
        AuditEntry.objects.filter(action="campaign.step_change", target_id=campaign.pk).values_list(
            "detail", flat=True
        )
    )
    assert "step 1: delay 1:00:00 → 2:00:00" in history
    assert any(d.startswith("step 2 added (messenger") for d in history)
    # The other team sees the shared sequence but may not change what A's campaign runs.
    client.force_login(two_teams.b.rep)
    assert (
        client.post(
            f"/sequences/{campaign.sequence.pk}/", form("Mine", steps, save="1")
        ).status_code
        == 403
    )


def test_build_a_new_sequence_comes_back_to_the_campaign_builder_with_it_chosen(client):
    ann, bob = make_user("ann", "rep"), make_user("bob", "rep")
    client.force_login(ann)
    assert "Build a new sequence" in client.get("/campaigns/new/").content.decode()
    steps = {"s1": step("email", 0, "days", body="Hello")}
    response = client.post(
        "/sequences/new/", form("For Q3", steps, save="1", **{"for": "campaign"})
    )
    sequence = Sequence.objects.get(name="For Q3")
    assert response["Location"] == f"/campaigns/new/?sequence={sequence.pk}"
    page = client.get(response["Location"]).content.decode()
    assert f'<option value="{sequence.pk}" selected>For Q3</option>' in page
    # Ann's sequence is hers: Bob neither sees it nor gets it preselected.
    client.force_login(bob)
    assert "For Q3" not in client.get(response["Location"]).content.decode()
    assert client.get(f"/sequences/{sequence.pk}/").status_code == 404
    assert "For Q3" not in client.get("/sequences/").content.decode()


def test_a_new_template_is_written_on_its_own_page_with_a_live_preview(client):
    ann = make_user("ann", "rep")
    client.force_login(ann)
    assert 'href="/templates/new/"' in client.get("/templates/").content.decode()
    assert "New template" in client.get("/templates/new/").content.decode()
    preview = client.post(
        "/templates/preview/",
        {"prefix": "s2-", "s2-body": "Hi {{ first_name", "s2-channel": "email"},
    )
    assert preview.status_code == 200 and "lint-error" in preview.content.decode()
    data = {
        "name": "Welcome",
        "channel": "email",
        "subject": "Hi",
        "body": "Hello {{ first_name }}",
    }
    response = client.post("/templates/new/", data)
    template = Template.objects.get(name="Welcome")
    assert response["Location"] == f"/templates/{template.pk}/"
    assert template.created_by == ann and template.versions.count() == 1
    assert Campaign.objects.count() == 0


def test_a_step_tries_its_alternatives_in_order_never_its_own_channel_twice(client):
    client.force_login(make_user("ann", "rep"))
    backup = Template.objects.create(name="Backup", channel="email", body="Hi {{ first_name }}")
    steps = {"s1": step("telegram", 0, "days", body="Yo")}
    added = client.post("/sequences/new/", form("Alts", steps, add_alt="s1")).content.decode()
    assert 'name="s1-alts" value="a1"' in added
    alt = {"alts": ["a1"], "a1-channel": "telegram", "a1-template": str(backup.pk)}
    same = client.post("/sequences/new/", form("Alts", {"s1": steps["s1"] | alt}, save="1"))
    assert "Step 1, alternative 1: telegram is already tried." in same.content.decode()
    assert not Sequence.objects.exists()
    alt["a1-channel"] = "email"
    saved = client.post("/sequences/new/", form("Alts", {"s1": steps["s1"] | alt}, save="1"))
    assert saved.status_code == 302
    step_row = Step.objects.get(sequence__name="Alts")
    assert step_row.channel == "telegram"
    assert list(step_row.alternatives.values_list("position", "channel", "template__name")) == [
        (1, "email", "Backup")
    ]
    page = client.get(saved["Location"]).content.decode()
    assert 'name="s1-a1-channel"' in page and 'name="s1-a1-template"' in page


def test_a_step_that_already_sent_cannot_be_removed(
    client,
    two_teams,  # noqa: F811
):
    side = two_teams.a
    sent = side.campaign.sequence.steps.get()
    identity = side.contact.identities.get(channel="messenger")
    conversation = Conversation.objects.create(identity=identity, sender=side.page)
    message = Message.objects.create(
        conversation=conversation, sender=side.page, channel="messenger", direction="out", body="x"
    )
    enrollment = Enrollment.objects.create(campaign=side.campaign, contact=side.contact)
    StepSend.objects.create(enrollment=enrollment, step=sent, message=message)
    client.force_login(side.rep)
    steps = {"s1": step("messenger", 1, "days", body="A fresh start")}
    response = client.post(f"/sequences/{side.campaign.sequence.pk}/", form("A", steps, save="1"))
    assert "Step 1 has already sent messages: it cannot be removed." in response.content.decode()
    assert list(side.campaign.sequence.steps.all()) == [sent]


def test_business_days_and_an_identity_condition_are_saved_from_the_builder(client):
    ann = make_user("ann", "rep")
    client.force_login(ann)
    steps = {
        "s1": step("email", 0, "days", subject="Hi", body="Hello there"),
        "s2": step(
            "telegram",
            2,
            "days",
            body="Ping {{ first_name }}",
            condition="has_identity",
            condition_channel="telegram",
            business_days="on",
        ),
    }
    response = client.post("/sequences/new/", form("Weekdays", steps, save="1"))
    assert response.status_code == 302
    second = Step.objects.get(sequence__name="Weekdays", position=2)
    assert (second.business_days, second.condition, second.condition_channel) == (
        True,
        "has_identity",
        "telegram",
    )
    page = client.get(f"/sequences/{second.sequence_id}/").content.decode()
    boxes = re.findall(r'<input type="checkbox" name="[^"]*business_days"[^>]*>', page)
    assert len(boxes) == 2 and ["checked" in b for b in boxes] == [False, True]


def test_a_read_condition_after_a_telegram_step_is_refused_in_the_builder(client):
    ann = make_user("ann", "rep")
    client.force_login(ann)
    steps = {
        "s1": step("telegram", 0, "days", body="Hello there"),
        "s2": step("email", 2, "days", subject="Hi", body="Seen it?", condition="read"),
    }
    response = client.post("/sequences/new/", form("Read after Telegram", steps, save="1"))
    assert response.status_code == 200
    assert "Telegram does not report delivery or reading" in response.content.decode()
    assert not Sequence.objects.filter(name="Read after Telegram").exists()
