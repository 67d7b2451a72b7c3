"""A failing sending domain at launch: a strict one blocks it with the reason, another
warns in the lint and on the overview; the domain pages say each record in words."""

import pytest
from django.urls import reverse

from campaigns.lint import campaign_lint
from campaigns.models import Campaign
from campaigns.services import enrollments_create as enrol
from deliverability.models import SendingDomain
from deliverability.services import domain_check, domains_discover
from tests import factories
from tests.deliverability.conftest import email_sender

pytestmark = pytest.mark.django_db
FAILING = "Sending domain acme.example: DKIM missing, DMARC missing, DMARC alignment missing."


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("boss", "b@example.com", "pw"))
    return client


@pytest.fixture
def failing(dns_server):
    """acme.example with SPF and no DMARC, checked."""
    sender = email_sender("Anna", "anna@acme.example")
    dns_server.records["acme.example"] = ["v=spf1 mx ~all"]
    [domain] = domains_discover()
    return sender, domain_check(domain=domain)


def draft_campaign(sender) -> Campaign:
    campaign = factories.campaign(senders=[sender])
    enrol(campaign=campaign, contacts=[factories.contact(1)])
    return campaign


def launch(client, campaign: Campaign):
    url = reverse("dashboards:builder_review", args=[campaign.pk])
    return client.post(url, {"confirm_warnings": "on"})


def test_a_strict_failing_domain_blocks_the_launch_with_the_reason(admin_client, failing):
    sender, domain = failing
    domain.strict = True
    domain.save()
    campaign = draft_campaign(sender)
    response = launch(admin_client, campaign)
    assert response.status_code == 200
    text = response.content.decode()
    assert (
        "Sending domain acme.example: DKIM missing, DMARC missing, DMARC alignment missing." in text
    )
    assert "It is strict: fix the records before launching." in text
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


def test_a_failing_domain_that_is_not_strict_warns_and_the_launch_goes_on(admin_client, failing):
    sender, domain = failing
    campaign = draft_campaign(sender)
    [issue] = [i for i in campaign_lint(campaign=campaign).issues if i.code == "sending_domain"]
    assert issue.level == "warning"
    assert (
        issue.text
        == "Sending domain acme.example: DKIM missing, DMARC missing, DMARC alignment missing."
    )
    assert launch(admin_client, campaign).status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.RUNNING

    overview = admin_client.get(reverse("dashboards:overview")).content.decode()
    assert f'id="failing-domain-{domain.pk}"' in overview
    assert "fails its DNS checks (DKIM, DMARC, ALIGNMENT)" in overview


def test_the_domain_page_says_each_record_and_what_to_publish(admin_client, dns_server, failing):
    _, domain = failing
    page = admin_client.get(reverse("domains:detail", args=[domain.pk])).content.decode()
    assert "Passing" in page and "Missing" in page
    assert "v=DMARC1; p=none; rua=mailto:dmarc-reports@acme.example" in page
    admin_client.post(reverse("domains:generate_key", args=[domain.pk]))
    domain.refresh_from_db()
    assert domain.signing and domain.dkim_public_key
    page = admin_client.get(reverse("domains:detail", args=[domain.pk])).content.decode()
    assert f"v=DKIM1; k=rsa; p={domain.dkim_public_key}" in page
    assert "outreach._domainkey.acme.example" in page

    dns_server.records["_dmarc.acme.example"] = ["v=DMARC1; p=none"]
    dns_server.records["outreach._domainkey.acme.example"] = [
        f"v=DKIM1; k=rsa; p={domain.dkim_public_key}"
    ]
    admin_client.post(reverse("domains:check", args=[domain.pk]))
    domain.refresh_from_db()
    assert domain.failing_records == []
    admin_client.post(reverse("domains:strict", args=[domain.pk]), {"strict": "on"})
    domain.refresh_from_db()
    assert domain.strict


def test_another_teams_domain_is_not_found_and_a_rep_may_not_change_one(client, django_user_model):
    other = SendingDomain.objects.create(domain="other.example")
    rep = django_user_model.objects.create_user("rep", "r@example.com", "pw")
    mine = email_sender("Mine", "me@mine.example")
    mine.owner = rep
    mine.save()
    client.force_login(rep)
    listing = client.get(reverse("domains:list")).content.decode()
    assert "mine.example" in listing and "other.example" not in listing
    assert client.get(reverse("domains:detail", args=[other.pk])).status_code == 404
    assert (
        client.post(reverse("domains:strict", args=[other.pk]), {"strict": "on"}).status_code == 404
    )
    own = SendingDomain.objects.get(domain="mine.example")
    assert client.post(reverse("domains:generate_key", args=[own.pk])).status_code == 404
    own.refresh_from_db()
    assert own.dkim_public_key == ""
