"""Per-provider caps are edited on the sender's admin page, so only by someone who may
change that sender; another team's sender, and so its caps, cannot be reached."""

import pytest
from django.urls import reverse

from outreach.models import SenderProviderCap
from tests.security.admin_forms import admin_form
from tests.security.teams import two_teams  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

PREFIX = "provider_caps"


def _with_cap(data: dict, provider: str, per_hour: int) -> dict:
    data = dict(data)
    data[f"{PREFIX}-0-provider"] = [provider]
    data[f"{PREFIX}-0-per_hour"] = [str(per_hour)]
    data["_save"] = ["Save"]
    return data


def test_an_admin_caps_gmail_on_a_sender(two_teams, client):  # noqa: F811
    sender = two_teams.rows["ann"].sender
    client.force_login(two_teams.root)
    url = reverse("admin:outreach_senderaccount_change", args=[sender.pk])
    response = client.post(url, _with_cap(admin_form(client, url), "google", 20))
    assert response.status_code == 302, response.content.decode()[:2000]
    cap = SenderProviderCap.objects.get(sender=sender)
    assert (cap.provider, cap.per_hour) == ("google", 20)


def test_a_provider_that_is_no_domain_is_refused(two_teams, client):  # noqa: F811
    sender = two_teams.rows["ann"].sender
    client.force_login(two_teams.root)
    url = reverse("admin:outreach_senderaccount_change", args=[sender.pk])
    response = client.post(url, _with_cap(admin_form(client, url), "Gmail!", 20))
    assert response.status_code == 200
    assert "Use google, microsoft, yahoo or a lower-case domain" in response.content.decode()
    assert not SenderProviderCap.objects.exists()


def test_another_teams_sender_caps_cannot_be_read_or_changed(two_teams, client):  # noqa: F811
    theirs = two_teams.rows["sid"].sender
    SenderProviderCap.objects.create(sender=theirs, provider="google", per_hour=5)
    client.force_login(two_teams.nora)
    url = reverse("admin:outreach_senderaccount_change", args=[theirs.pk])
    page = client.get(url, follow=True)
    assert "Taken over" not in page.content.decode()
    assert "5 per hour" not in page.content.decode() and 'value="5"' not in page.content.decode()
    data = {
        f"{PREFIX}-TOTAL_FORMS": ["1"],
        f"{PREFIX}-INITIAL_FORMS": ["0"],
        f"{PREFIX}-0-provider": ["google"],
        f"{PREFIX}-0-per_hour": ["500"],
        "name": ["Taken over"],
        "_save": ["Save"],
    }
    response = client.post(url, data)
    assert response.status_code in (302, 403, 404)
    assert list(SenderProviderCap.objects.values_list("provider", "per_hour")) == [("google", 5)]
    theirs.refresh_from_db()
    assert theirs.name != "Taken over"
