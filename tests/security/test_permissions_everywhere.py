"""One scoping, every interface: a rep opening another rep's contact, campaign, conversation
or deal by id gets "not found" in the admin, the dashboards, the inbox, the pipeline board,
the template editor, the import pages and the API; their manager sees it, an admin too.

The world (admin, manager mia with rep alice in her team, bob in no team, each rep owning a
contact, conversation, campaign and deal) comes from tests/api/conftest.py.
"""

import pytest

from contacts.models import ContactImport
from tests.api.conftest import client_for, world  # noqa: F401  (the fixture)

NOT_SEEN = (302, 403, 404)  # the admin redirects "not found" to its index


def _urls(o) -> dict[str, list[tuple[str, str]]]:
    """(method, url) per interface for one rep's rows."""
    c, conv, camp, deal = o.contact.pk, o.conversation.pk, o.campaign.pk, o.deal.pk
    return {
        "admin": [
            ("get", f"/admin/contacts/contact/{c}/change/"),
            ("get", f"/admin/campaigns/campaign/{camp}/change/"),
            ("get", f"/admin/outreach/conversation/{conv}/change/"),
            ("get", f"/admin/pipelines/deal/{deal}/change/"),
        ],
        "dashboards": [
            ("get", f"/campaigns/{camp}/"),
            ("get", f"/campaigns/{camp}/forecast/"),
            ("get", f"/campaigns/{camp}/build/audience/"),
            ("get", f"/campaigns/{camp}/build/review/"),
            ("get", f"/templates/lint/campaign/{camp}/"),
        ],
        "inbox": [
            ("get", f"/inbox/{conv}/"),
            ("get", f"/inbox/{conv}/thread/"),
            ("post", f"/inbox/{conv}/reply/"),
            ("post", f"/inbox/{conv}/resolve/"),
        ],
        "pipeline": [("post", f"/pipelines/deals/{deal}/move/")],
        "api": [
            ("get", f"/api/v1/contacts/{c}/"),
            ("get", f"/api/v1/campaigns/{camp}/"),
            ("get", f"/api/v1/conversations/{conv}/"),
            ("get", f"/api/v1/deals/{deal}/"),
        ],
    }


def _call(client, api_client, method: str, url: str):
    if url.startswith("/api/"):
        return getattr(api_client, method)(url)
    return getattr(client, method)(url, {"body": "hi", "stage": 1})


@pytest.mark.parametrize("interface", ["admin", "dashboards", "inbox", "pipeline", "api"])
def test_rep_cannot_reach_another_reps_rows_by_id(world, client, interface):  # noqa: F811
    client.force_login(world.alice)
    api = client_for(world.alice)
    for method, url in _urls(world.bobs)[interface]:
        status = _call(client, api, method, url).status_code
        assert status in NOT_SEEN, f"{method} {url} -> {status}"
    # The same pages answer for alice's own rows (the refusal is scoping, not breakage).
    for method, url in _urls(world.alices)[interface]:
        if method == "get":
            status = _call(client, api, method, url).status_code
            assert status == 200 or "/build/" in url, f"{method} {url} -> {status}"


@pytest.mark.parametrize("interface", ["admin", "dashboards", "inbox", "api"])
def test_manager_reaches_their_reps_rows_but_not_others(world, client, interface):  # noqa: F811
    client.force_login(world.manager)
    api = client_for(world.manager)
    for method, url in _urls(world.alices)[interface]:
        if method == "get" and "/build/" not in url:
            assert _call(client, api, method, url).status_code == 200, url
    for method, url in _urls(world.bobs)[interface]:
        assert _call(client, api, method, url).status_code in NOT_SEEN, url


def test_admin_reaches_every_row(world, client):  # noqa: F811
    client.force_login(world.admin)
    api = client_for(world.admin)
    for owned in (world.alices, world.bobs):
        for interface in ("admin", "dashboards", "inbox", "api"):
            for method, url in _urls(owned)[interface]:
                if method == "get" and "/build/" not in url:
                    assert _call(client, api, method, url).status_code == 200, url


def test_lists_and_boards_show_only_the_reps_own_rows(world, client):  # noqa: F811
    client.force_login(world.alice)
    pages = {
        "/": ("alice campaign", "bob campaign"),
        "/inbox/": ("AliceLead", "BobLead"),
        f"/pipelines/{world.alices.deal.pipeline_id}/": ("AliceLead", "BobLead"),
    }
    for url, (mine, theirs) in pages.items():
        html = client.get(url).content.decode()
        assert mine in html and theirs not in html, url


def test_template_preview_never_renders_another_reps_contact(world, client):  # noqa: F811
    client.force_login(world.alice)
    template = world.bobs.campaign.sequence.steps.first().template
    editor = client.get(f"/templates/{template.pk}/").content.decode()
    assert "BobLead" not in editor
    # Asking for bob's contact by id previews one of alice's instead.
    preview = client.post(
        f"/templates/{template.pk}/preview/",
        {"body": "Hi {{ first_name }}", "contact": world.bobs.contact.pk, "channel": "email"},
    ).content.decode()
    assert "AliceLead" in preview and "BobLead" not in preview
    sample = client.post(
        f"/templates/{template.pk}/preview/",
        {"body": "Hi {{ first_name }}", "sample": "on", "channel": "email"},
    ).content.decode()
    assert "BobLead" not in sample


def test_imports_of_another_rep_are_not_found(world, client):  # noqa: F811
    theirs = ContactImport.objects.create(original_name="bob.csv", path="x", created_by=world.bob)
    mine = ContactImport.objects.create(
        original_name="alice.csv", path="x", created_by=world.alice, status="done"
    )
    client.force_login(world.alice)
    for suffix in ("", "progress/", "errors.csv"):
        assert client.get(f"/contacts/imports/{theirs.pk}/{suffix}").status_code == 404
    assert client.post(f"/contacts/imports/{theirs.pk}/cancel/").status_code == 404
    assert client.get(f"/contacts/imports/{mine.pk}/progress/").status_code == 200
    listing = client.get("/contacts/imports/").content.decode()
    assert "alice.csv" in listing and "bob.csv" not in listing
