"""Every page of the app, in a real Chromium, fits a 390 px phone and a 1440 px desktop:
the page itself never scrolls sideways (wide tables scroll inside their own box).

The list of pages is checked against the project's URL patterns, so a page added later
without a place here fails this test instead of going unchecked."""

from pathlib import Path

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from campaigns.models import Campaign
from campaigns.triggers.models import Trigger
from contacts import imports
from contacts.invitations import invitation_create, invitation_token
from contacts.models import ContactImport, ContactImportError
from core.teams import Team
from deliverability.dkim import key_pair
from deliverability.models import SendingDomain
from outreach.channels.email.backend import unsubscribe_token
from outreach.inbox.models import SavedReply
from outreach.models import Conversation
from pipelines.models import Deal, Pipeline, Stage
from tests import factories
from tests.browser import ARTEFACTS
from tests.contacts.contact_world import reached_on_two_channels
from tests.dashboards.conftest import build_campaign
from tests.inbox.helpers import rep
from tests.tasks.test_task_queue import DAY, linkedin_campaign

pytestmark = pytest.mark.django_db(transaction=True)
CSV = Path(__file__).resolve().parents[1] / "fixtures" / "csv" / "apollo_pipe_socials.csv"
WIDTHS = (390, 1440)

# URL names that are not pages a person reads: form targets (POST only), polled fragments,
# file downloads, machine endpoints. Each says why it is left out.
NOT_PAGES = {
    "health": "JSON for the load balancer",
    "healthz": "text for the load balancer",
    "readyz": "JSON for the load balancer",
    "metrics": "Prometheus text",
    "logout": "POST only",
    "invitation_revoke": "POST only",
    "api_token_revoke": "POST only",
    "contacts:import_progress": "htmx fragment polled inside the import page",
    "contacts:import_errors": "CSV download",
    "contacts:import_action": "POST only",
    "templates:preview": "htmx fragment inside the template page",
    "inbox:thread": "htmx fragment polled inside the conversation page",
    "inbox:reply": "POST only",
    "inbox:note": "POST only",
    "inbox:assign": "POST only",
    "inbox:snooze": "POST only",
    "inbox:resolve": "POST only",
    "inbox:cancel_scheduled": "POST only",
    "inbox:intent": "POST only",
    "inbox:media": "a file",
    "tasks:sent": "POST only",
    "tasks:skip": "POST only",
    "tasks:replied": "POST only",
    "pipelines:deal_move": "POST only",
    "outreach:webhook": "platform webhook",
    "outreach:webhook_account": "platform webhook",
    "outreach:media_file": "a file",
    "dashboards:pause": "POST only",
    "dashboards:resume": "POST only",
    "contact_pages:bulk": "POST only (its confirmation page is the list's form target)",
    "saved_replies:render": "htmx fragment that fills the reply box",
    "templates:preview_new": "htmx fragment inside the template and sequence pages",
    "domains:check": "POST only",
    "domains:generate_key": "POST only",
    "domains:strict": "POST only",
    "domains:resume": "POST only",
    "dashboards:team_cap": "POST only",
}
SKIPPED_PREFIXES = ("admin/", "api/", "anymail/")  # admin, REST API, ESP webhooks: not pages


def url_names() -> set[str]:
    """Every named route of the project outside the admin and the API."""
    names: set[str] = set()

    def walk(patterns, prefix: str, namespace: str) -> None:
        for p in patterns:
            route = prefix + str(p.pattern)
            if route.startswith(SKIPPED_PREFIXES):
                continue
            if isinstance(p, URLResolver):
                ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
                walk(p.url_patterns, route, ns)
            elif isinstance(p, URLPattern) and p.name:
                names.add(namespace + p.name)

    walk(get_resolver().url_patterns, "", "")
    return names


def small_world(admin) -> dict[str, str]:
    """A team's realistic week: returns, by URL name, the page to visit."""
    ann, bob = rep("ann"), rep("bob")
    team = Team.objects.create(name="Berlin sales")
    team.members.add(ann, bob)
    team.managers.add(admin)
    campaign = build_campaign("Spring fair follow-up with a rather long campaign name")
    Campaign.objects.filter(pk=campaign.pk).update(owner=ann)
    contact = reached_on_two_channels(ann)
    linkedin_campaign(ann, steps=(("linkedin", 0), ("email", 2 * DAY)))
    draft = factories.campaign(senders=[factories.sender("Draft box")], name="Autumn draft")
    Campaign.objects.filter(pk=draft.pk).update(status=Campaign.Status.DRAFT)
    pipeline = Pipeline.objects.create(name="Partnerships")
    stages = [
        Stage.objects.create(pipeline=pipeline, name=name, position=i)
        for i, name in enumerate(("New lead", "Qualified", "Proposal sent", "Negotiation"))
    ]
    for i, stage in enumerate(stages):
        Deal.objects.create(
            contact=factories.contact(700 + i, owner=ann, company="Internationale Handels AG"),
            pipeline=pipeline,
            stage=stage,
            owner=ann,
            value=12500 * (i + 1),
        )
    Trigger.objects.create(
        name="Price question on Instagram",
        team=team,
        channel="instagram",
        event_type="dm",
        keywords="price, preis, prix",
        reply_body="Thanks! Here is our price list: https://example.com/prices/2026/spring",
        campaign=campaign,
    )
    mapping = imports.contact_import_create(name=CSV.name, chunks=[CSV.read_bytes()], user=admin)
    done = ContactImport.objects.create(
        original_name="trade-fair-leads-hannover-messe-2026-final-v3.csv",
        path="gone.csv",
        status=ContactImport.Status.DONE,
        records_done=3,
        created=2,
        failed=1,
        created_by=admin,
        finished_at=timezone.now(),
    )
    ContactImportError.objects.create(
        contact_import=done,
        line=3,
        column="Email",
        reason="Not an email address: averyveryverylongaddresswithoutanyatsign.example.com",
        row=["Raj", "Patel", "averyveryverylongaddresswithoutanyatsign.example.com"],
    )
    invitation = invitation_create(
        inviter=admin, email="new.colleague@example.com", role="rep", team=team
    )
    conversation = Conversation.objects.filter(identity__contact=contact, messages__direction="in")
    twin = factories.contact(800, owner=ann, company="Internationale Handels AG")
    saved = SavedReply.objects.create(
        team=team,
        name="Price list",
        body='Hi {{ first_name|default:"there" }}, here is our price list.',
        created_by=admin,
    )
    template = campaign.sequence.steps.first().template
    # A domain whose DKIM record to publish is a long unbroken key (the widest cell).
    private, public = key_pair()
    dkim = f"v=DKIM1; k=rsa; p={public}"
    domain = SendingDomain.objects.create(
        domain="mail.internationale-handels.example",
        dkim_private_key=private,
        dkim_public_key=public,
        signing=True,
        results={
            "spf": {"status": "pass", "found": "v=spf1 mx ~all", "publish": "v=spf1 mx ~all"},
            "dkim": {"status": "missing", "found": "", "publish": dkim, "note": "No key."},
        },
        checked_at=timezone.now(),
    )
    uid = urlsafe_base64_encode(force_bytes(admin.pk))
    reset_token = default_token_generator.make_token(admin)
    return {
        "login": "/accounts/login/",
        "password_change": "/accounts/password/change/",
        "password_change_done": "/accounts/password/change/done/",
        "password_reset": "/accounts/password/reset/",
        "password_reset_done": "/accounts/password/reset/done/",
        "password_reset_confirm": f"/accounts/reset/{uid}/{reset_token}/",
        "password_reset_complete": "/accounts/reset/done/",
        "invitations": "/accounts/invite/",
        "invitation_accept": f"/accounts/invite/{invitation_token(invitation)}/",
        "api_tokens": "/accounts/tokens/",
        "contacts:import_upload": "/contacts/imports/",
        "contacts:import_detail": f"/contacts/imports/{mapping.pk}/",
        "contacts:import_detail (done)": f"/contacts/imports/{done.pk}/",
        "contacts:import_rollback": f"/contacts/imports/{done.pk}/rollback/",
        "contact_pages:list": "/contacts/",
        "contact_pages:detail": f"/contacts/{contact.pk}/",
        "contact_pages:duplicates": "/contacts/duplicates/",
        "contact_pages:merge_choose": f"/contacts/{contact.pk}/merge/",
        "contact_pages:merge": f"/contacts/{contact.pk}/merge/{twin.pk}/",
        "saved_replies:list": "/inbox/replies/",
        "saved_replies:create": "/inbox/replies/new/",
        "saved_replies:edit": f"/inbox/replies/{saved.pk}/",
        "saved_replies:delete": f"/inbox/replies/{saved.pk}/delete/",
        "sequences:list": "/sequences/",
        "sequences:new": "/sequences/new/",
        "sequences:edit": f"/sequences/{campaign.sequence.pk}/",
        "templates:new": "/templates/new/",
        "templates:list": "/templates/",
        "templates:edit": f"/templates/{template.pk}/",
        "templates:campaign_lint": f"/templates/lint/campaign/{campaign.pk}/",
        "inbox:list": "/inbox/",
        "inbox:metrics": "/inbox/metrics/",
        "inbox:conversation": f"/inbox/{conversation.first().pk}/",
        "tasks:queue": "/tasks/",
        "pipelines:index": "/pipelines/",
        "pipelines:board": f"/pipelines/{pipeline.pk}/",
        "triggers:list": "/triggers/",
        "outreach:unsubscribe": f"/u/{unsubscribe_token('lead1@example.com')}/",
        "dashboards:overview": "/",
        "dashboards:campaign": f"/campaigns/{campaign.pk}/",
        "dashboards:forecast": f"/campaigns/{campaign.pk}/forecast/",
        "dashboards:builder": "/campaigns/new/",
        "dashboards:builder_audience": f"/campaigns/{draft.pk}/build/audience/",
        "dashboards:builder_review": f"/campaigns/{draft.pk}/build/review/",
        "dashboards:sender_health": f"/senders/{draft.senders.get().pk}/health/",
        "domains:list": "/deliverability/domains/",
        "domains:detail": f"/deliverability/domains/{domain.pk}/",
    }


LOGGED_OUT = {
    "login",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    "invitation_accept",
    "outreach:unsubscribe",
}


def test_every_page_fits_a_phone_and_a_desktop_without_sideways_scrolling(
    chromium, live_server, django_user_model
):
    admin = django_user_model.objects.create_superuser("boss", "boss@example.com", "pw-123456-x")
    pages = small_world(admin)
    visited = {name.split(" ")[0] for name in pages}
    missing = url_names() - visited - set(NOT_PAGES)
    assert not missing, f"pages this test does not visit: {sorted(missing)}"
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    too_wide: list[str] = []
    for logged_in in (False, True):
        context = chromium.new_context(base_url=live_server.url)
        try:
            page = context.new_page()
            page.set_default_timeout(15_000)
            if logged_in:
                page.goto("/accounts/login/")
                page.fill("#id_username", "boss")
                page.fill("#id_password", "pw-123456-x")
                page.click("button[type=submit]")
                page.wait_for_url(lambda url: "/login/" not in url)
            for name, path in pages.items():
                if (name.split(" ")[0] in LOGGED_OUT) == logged_in:
                    continue
                for width in WIDTHS:
                    page.set_viewport_size({"width": width, "height": 900})
                    response = page.goto(path)
                    assert response is not None and response.status < 400, (name, path)
                    assert "/login/" not in page.url or name == "login", (name, page.url)
                    scroll = page.evaluate("document.documentElement.scrollWidth")
                    if scroll > width:
                        too_wide.append(f"{name} at {width}: {scroll} px")
                    if width == 390:
                        slug = name.replace(":", "_").replace(" ", "_").replace("(", "")
                        shot = ARTEFACTS / f"phone_{slug.replace(')', '')}.png"
                        page.screenshot(path=str(shot), full_page=True)
        finally:
            context.close()
    assert not too_wide, "pages wider than the window:\n" + "\n".join(too_wide)
