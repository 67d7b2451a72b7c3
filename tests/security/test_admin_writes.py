"""The admin writes only what the acting user may see: every foreign key and many-to-many
of every admin form is narrowed to the rows the user may pick, owners to the users they
may name, and every action declares the permission it needs.

The world (admin boss, manager mia with rep alice in team North, rep bob in no team, each
rep owning a contact, conversation, campaign and deal) comes from tests/api/conftest.py;
bob's rows are "another team's" for alice and mia. Forms are read from the admin page and
posted back with one field changed (tests/security/admin_forms.py).
"""

import re

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import RequestFactory
from django.urls import reverse

from campaigns.models import Campaign, Enrollment
from contacts.models import ConsentRecord, Contact, Identity
from outreach.models import Conversation, SenderAccount
from pipelines.models import Deal
from tests import factories
from tests.api.conftest import world  # noqa: F401  (the fixture)
from tests.security.admin_forms import post_admin_form

REFUSED = "Select a valid choice"


@pytest.fixture
def bobs_sender(world):  # noqa: F811
    return factories.sender("Bob mailbox", owner=world.bob)


def _as(client, user):
    client.force_login(user)
    return client


def test_rep_cannot_create_identity_on_another_teams_contact_in_admin(world, client):  # noqa: F811
    url = reverse("admin:contacts_identity_add")
    page = post_admin_form(
        _as(client, world.alice),
        url,
        contact=world.bobs.contact.pk,
        channel="email",
        value="planted@example.com",
    )
    assert page.status_code == 200
    assert REFUSED in page.content.decode()
    assert not Identity.objects.filter(value="planted@example.com").exists()
    # The same form saves on her own contact: the refusal is the scoping.
    done = post_admin_form(
        client, url, contact=world.alices.contact.pk, channel="email", value="own@example.com"
    )
    assert done.status_code == 302
    assert Identity.objects.get(value="own@example.com").contact == world.alices.contact


def test_rep_cannot_create_consent_on_another_teams_contact_in_admin(world, client):  # noqa: F811
    page = post_admin_form(
        _as(client, world.alice),
        reverse("admin:contacts_consentrecord_add"),
        contact=world.bobs.contact.pk,
        kind=ConsentRecord.Kind.GRANTED,
        source="admin",
    )
    assert page.status_code == 200
    assert REFUSED in page.content.decode()
    assert not ConsentRecord.objects.filter(contact=world.bobs.contact).exists()


def test_rep_cannot_create_deal_on_another_teams_contact_in_admin(world, client):  # noqa: F811
    before = Deal.objects.count()
    page = post_admin_form(
        _as(client, world.alice),
        reverse("admin:pipelines_deal_add"),
        contact=world.bobs.contact.pk,
        pipeline=world.stage.pipeline_id,
        stage=world.stage.pk,
        owner=world.alice.pk,
    )
    assert page.status_code == 200
    assert REFUSED in page.content.decode()
    assert Deal.objects.count() == before


def test_rep_cannot_create_enrollment_on_another_teams_contact_in_admin(world, client):  # noqa: F811
    url = reverse("admin:campaigns_enrollment_add")
    _as(client, world.alice)
    into_own = post_admin_form(
        client, url, contact=world.bobs.contact.pk, campaign=world.alices.campaign.pk
    )
    into_theirs = post_admin_form(
        client, url, contact=world.alices.contact.pk, campaign=world.bobs.campaign.pk
    )
    for page in (into_own, into_theirs):
        assert page.status_code == 200
        assert REFUSED in page.content.decode()
    assert not Enrollment.objects.exists()


def test_rep_cannot_make_another_rep_owner_in_admin(world, client):  # noqa: F811
    _as(client, world.alice)
    pages = [
        post_admin_form(
            client,
            reverse("admin:contacts_contact_change", args=[world.alices.contact.pk]),
            owner=world.bob.pk,
        ),
        post_admin_form(
            client,
            reverse("admin:campaigns_campaign_change", args=[world.alices.campaign.pk]),
            owner=world.bob.pk,
        ),
        post_admin_form(
            client,
            reverse("admin:pipelines_deal_change", args=[world.alices.deal.pk]),
            owner=world.bob.pk,
        ),
        post_admin_form(
            client,
            reverse("admin:outreach_conversation_change", args=[world.alices.conversation.pk]),
            assigned_to=world.bob.pk,
        ),
    ]
    for page in pages:
        assert page.status_code == 200
        assert REFUSED in page.content.decode()
    assert Contact.objects.get(pk=world.alices.contact.pk).owner == world.alice
    assert Campaign.objects.get(pk=world.alices.campaign.pk).owner == world.alice
    assert Deal.objects.get(pk=world.alices.deal.pk).owner == world.alice
    assert Conversation.objects.get(pk=world.alices.conversation.pk).assigned_to is None


def _options(html: str, name: str) -> list[str]:
    select = re.search(rf'<select name="{name}".*?</select>', html, re.S)
    assert select, f"no {name} menu"
    return re.findall(r"<option[^>]*>([^<]*)</option>", select.group(0))


def test_owner_menu_offers_a_rep_themselves_and_a_manager_their_team(world, client):  # noqa: F811
    url = reverse("admin:contacts_contact_add")
    rep_menu = _options(_as(client, world.alice).get(url).content.decode(), "owner")
    assert rep_menu == ["---------", "alice"]
    manager_menu = _options(_as(client, world.manager).get(url).content.decode(), "owner")
    assert sorted(manager_menu) == ["---------", "alice", "mia"]


def test_manager_can_make_their_rep_owner_but_not_another_teams_rep(world, client):  # noqa: F811
    url = reverse("admin:contacts_contact_change", args=[world.alices.contact.pk])
    _as(client, world.manager)
    refused = post_admin_form(client, url, owner=world.bob.pk)
    assert REFUSED in refused.content.decode()
    assert post_admin_form(client, url, owner=world.manager.pk).status_code == 302
    assert Contact.objects.get(pk=world.alices.contact.pk).owner == world.manager
    assert post_admin_form(client, url, owner=world.alice.pk).status_code == 302
    assert Contact.objects.get(pk=world.alices.contact.pk).owner == world.alice


def test_admin_can_make_anyone_owner(world, client):  # noqa: F811
    url = reverse("admin:contacts_contact_change", args=[world.alices.contact.pk])
    done = post_admin_form(_as(client, world.admin), url, owner=world.bob.pk)
    assert done.status_code == 302
    assert Contact.objects.get(pk=world.alices.contact.pk).owner == world.bob


def test_rep_cannot_rewire_conversation_to_another_teams_identity(world, client):  # noqa: F811
    conversation = world.alices.conversation
    page = post_admin_form(
        _as(client, world.alice),
        reverse("admin:outreach_conversation_change", args=[conversation.pk]),
        identity=world.bobs.contact.identities.get().pk,
    )
    assert page.status_code == 200
    assert REFUSED in page.content.decode()
    conversation.refresh_from_db()
    assert conversation.identity.contact == world.alices.contact
    # Nor does bob's contact open in her inbox through it.
    assert client.get(f"/inbox/{world.bobs.conversation.pk}/").status_code in (403, 404)


def test_rep_cannot_add_another_teams_sender_to_campaign(world, client, bobs_sender):  # noqa: F811
    campaign = world.alices.campaign
    url = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    _as(client, world.alice)
    html = client.get(url).content.decode()
    assert "Bob mailbox" not in html
    page = post_admin_form(client, url, senders=[world.sender.pk, bobs_sender.pk])
    assert page.status_code == 200
    assert REFUSED in page.content.decode()
    assert list(campaign.senders.all()) == [world.sender]


def test_enrol_action_lists_only_visible_campaigns_and_refuses_others(world, client):  # noqa: F811
    url = reverse("admin:contacts_contact_changelist")
    chosen = {"action": "enrol", "_selected_action": [world.alices.contact.pk]}
    asked = _as(client, world.alice).post(url, chosen)
    assert asked.status_code == 200
    html = asked.content.decode()
    assert world.alices.campaign.name in html
    assert world.bobs.campaign.name not in html

    forged = client.post(url, {**chosen, "confirm": "1", "campaign": world.bobs.campaign.pk})
    assert forged.status_code == 200
    assert REFUSED in forged.content.decode()
    assert not Enrollment.objects.exists()

    client.post(url, {**chosen, "confirm": "1", "campaign": world.alices.campaign.pk})
    assert Enrollment.objects.get().campaign == world.alices.campaign


def test_autocomplete_lists_only_visible_contacts(world, client):  # noqa: F811
    for user, seen, unseen in (
        (world.alice, world.alices.contact, world.bobs.contact),
        (world.manager, world.alices.contact, world.bobs.contact),
        (world.bob, world.bobs.contact, world.alices.contact),
    ):
        found = (
            _as(client, user)
            .get(
                "/admin/autocomplete/",
                {"app_label": "pipelines", "model_name": "deal", "field_name": "contact"},
            )
            .json()
        )
        ids = {int(r["id"]) for r in found["results"]}
        assert seen.pk in ids and unseen.pk not in ids, user
    # The user list is not searchable by a rep: their owner menu is a plain one.
    users = client.get(
        "/admin/autocomplete/",
        {"app_label": "contacts", "model_name": "contact", "field_name": "owner"},
    )
    assert users.status_code == 403


def test_autocomplete_lists_only_visible_senders(world, client, bobs_sender):  # noqa: F811
    found = (
        _as(client, world.alice)
        .get(
            "/admin/autocomplete/",
            {"app_label": "campaigns", "model_name": "enrollment", "field_name": "sender"},
        )
        .json()
    )
    assert {int(r["id"]) for r in found["results"]} == {world.sender.pk}


def test_rep_cannot_pause_a_sender(world, client):  # noqa: F811
    url = reverse("admin:outreach_senderaccount_changelist")
    page = _as(client, world.alice).get(url)
    assert page.status_code == 200
    assert 'value="pause"' not in page.content.decode()
    forged = {"action": "pause", "_selected_action": [world.sender.pk], "confirm": "1"}
    client.post(url, forged)
    client.post(url, {**forged, "action": "resume"})
    assert SenderAccount.objects.get(pk=world.sender.pk).paused is False
    # An admin still pauses it the same way.
    _as(client, world.admin).post(url, forged)
    assert SenderAccount.objects.get(pk=world.sender.pk).paused is True


def test_every_admin_action_declares_its_permissions():
    missing = []
    for model_admin in admin.site._registry.values():
        for action in [*(model_admin.actions or ()), *dict(admin.site.actions).values()]:
            func = getattr(model_admin, action) if isinstance(action, str) else action
            if not getattr(func, "allowed_permissions", None):
                missing.append(f"{type(model_admin).__name__}.{func.__name__}")
    assert missing == []


def test_every_admin_form_and_inline_offers_a_rep_only_rows_they_may_pick(world):  # noqa: F811
    """Generated over the registry: each foreign key and many-to-many form field of each
    admin and inline, as the rep alice sees it, holds none of bob's rows."""
    from campaigns.access import visible_queryset
    from core.access import owners_assignable_by

    request = RequestFactory().get("/admin/")
    request.user = world.alice
    checked = 0
    for model_admin in admin.site._registry.values():
        inlines = [i(model_admin.model, admin.site) for i in model_admin.inlines]
        for each in (model_admin, *inlines):
            for field in each.model._meta.get_fields():
                if not (field.many_to_many or field.many_to_one) or field.auto_created:
                    continue
                remote = field.remote_field.model
                allowed = (
                    owners_assignable_by(world.alice)
                    if remote is User
                    else visible_queryset(remote, world.alice)
                )
                if allowed is None:
                    continue
                make = (
                    each.formfield_for_manytomany
                    if field.many_to_many
                    else each.formfield_for_foreignkey
                )
                form_field = make(field, request)
                if form_field is None:
                    continue
                offered = set(form_field.queryset.values_list("pk", flat=True))
                assert offered <= set(allowed.values_list("pk", flat=True)), (
                    f"{type(each).__name__}.{field.name} offers rows alice may not pick"
                )
                checked += 1
    assert checked > 15


def test_rep_changelist_filters_name_only_what_they_may_see(world, client, bobs_sender):  # noqa: F811
    _as(client, world.alice)
    contacts = client.get(reverse("admin:contacts_contact_changelist")).content.decode()
    assert ">alice<" in contacts  # the owner filter is there, with her
    assert ">bob<" not in contacts and ">boss<" not in contacts
    mine = client.get(
        reverse("admin:contacts_contact_changelist"), {"owner__id__exact": world.alice.pk}
    )
    assert mine.status_code == 200 and world.alices.contact.first_name in mine.content.decode()
    Enrollment.objects.create(campaign=world.bobs.campaign, contact=world.bobs.contact)
    Enrollment.objects.create(campaign=world.alices.campaign, contact=world.alices.contact)
    enrollments = client.get(reverse("admin:campaigns_enrollment_changelist")).content.decode()
    assert world.alices.campaign.name in enrollments
    assert world.bobs.campaign.name not in enrollments
    messages = client.get(reverse("admin:outreach_message_changelist")).content.decode()
    assert "Bob mailbox" not in messages


def test_rep_cannot_open_another_teams_manual_task_and_nobody_adds_one_by_hand(world, client):  # noqa: F811
    from outreach.models import ManualTask, Message

    def task_for(owned) -> ManualTask:
        message = Message.objects.create(
            conversation=owned.conversation,
            sender=world.sender,
            channel="email",
            direction=Message.Direction.OUTBOUND,
            status=Message.Status.QUEUED,
            body="Call them",
        )
        return ManualTask.objects.create(message=message)

    alices, bobs = task_for(world.alices), task_for(world.bobs)
    _as(client, world.alice)
    change = reverse("admin:outreach_manualtask_change", args=[bobs.pk])
    assert client.get(change).status_code == 302  # the admin's "not found"
    post_admin_form(
        client,
        reverse("admin:outreach_manualtask_change", args=[alices.pk]),
        assignee=world.alice.pk,
    )
    client.post(change, {"assignee": world.alice.pk, "_save": "Save"})
    assert ManualTask.objects.get(pk=alices.pk).assignee == world.alice
    assert ManualTask.objects.get(pk=bobs.pk).assignee is None
    listed = client.get(reverse("admin:outreach_manualtask_changelist")).content.decode()
    assert f"#{alices.message_id}" in listed and f"#{bobs.message_id}" not in listed
    for user in (world.alice, world.admin):
        assert _as(client, user).get(reverse("admin:outreach_manualtask_add")).status_code == 403


def test_an_admin_scoping_its_own_rows_still_gets_its_choices_and_inlines_narrowed(world):  # noqa: F811
    """An admin class that mixes ScopedAdminMixin in itself (e.g. with its own visible_to)
    keeps that row scoping and gains the narrowing of every form field and inline."""
    from campaigns.security_admin import scope_admin
    from contacts.access import contacts_visible_to
    from core.access import ScopedAdminMixin

    class DealInline(admin.TabularInline):
        model = Deal

    class OwnContactAdmin(ScopedAdminMixin, admin.ModelAdmin):
        visible_to = contacts_visible_to
        inlines = [DealInline]

    class OwnDealAdmin(admin.ModelAdmin):
        pass

    site = admin.AdminSite(name="scoping-test")
    site.register(Contact, OwnContactAdmin)
    site.register(Deal, OwnDealAdmin)
    scope_admin(site)
    scope_admin(site)  # a second run changes nothing
    request = RequestFactory().get("/")
    request.user = world.alice
    contacts, deals = site.get_model_admin(Contact), site.get_model_admin(Deal)
    assert list(contacts.get_queryset(request)) == [world.alices.contact]
    owner = contacts.formfield_for_foreignkey(Contact._meta.get_field("owner"), request)
    assert list(owner.queryset) == [world.alice]
    contact = deals.formfield_for_foreignkey(Deal._meta.get_field("contact"), request)
    assert list(contact.queryset) == [world.alices.contact]
    inline = contacts.get_inline_instances(request)[0]
    campaign = inline.formfield_for_foreignkey(Deal._meta.get_field("campaign"), request)
    assert list(campaign.queryset) == [world.alices.campaign]
