"""What every dashboard page shows around its content: the same top bar to every page, a
banner while the kill switch is on, and the campaign's pause and resume buttons."""

import pytest

from campaigns.models import Campaign
from core.audit import AuditEntry
from outreach.sending.control import sending_switch_set
from tests.dashboards.conftest import build_campaign

pytestmark = pytest.mark.django_db
PAGES = ["/", "/inbox/", "/pipelines/", "/triggers/", "/templates/", "/contacts/imports/"]


@pytest.mark.parametrize("url", PAGES)
def test_every_page_links_inbox_pipelines_and_triggers_in_the_top_bar(staff_client, url):
    html = staff_client.get(url, follow=True).content.decode()
    nav = html.split("<nav", 1)[1].split("</nav>", 1)[0]
    for link in ('href="/"', 'href="/inbox/"', 'href="/pipelines/"', 'href="/triggers/"'):
        assert link in nav, (url, link)


@pytest.mark.parametrize("url", PAGES)
def test_every_page_warns_while_the_kill_switch_is_on_and_links_to_it(staff_client, url):
    assert 'id="kill-switch-banner"' not in staff_client.get(url, follow=True).content.decode()
    sending_switch_set(paused=True, reason="incident")
    html = staff_client.get(url, follow=True).content.decode()
    assert 'id="kill-switch-banner"' in html
    assert 'href="/admin/outreach/sendingswitch/1/change/"' in html


def test_campaign_dashboard_pauses_and_resumes_the_campaign(staff_client):
    campaign = build_campaign()
    url = f"/campaigns/{campaign.pk}/"
    html = staff_client.get(url).content.decode()
    assert 'id="campaign-pause"' in html and "data-confirm=" in html
    assert staff_client.get(f"{url}pause/").status_code == 405  # a POST only
    page = staff_client.post(f"{url}pause/", follow=True).content.decode()
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.PAUSED
    assert 'id="campaign-resume"' in page
    staff_client.post(f"{url}resume/")
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.RUNNING
    actions = AuditEntry.objects.filter(target_id=campaign.pk).values_list("action", flat=True)
    assert {"campaign.pause", "campaign.resume"} <= set(actions)


def test_staff_without_the_change_permission_get_no_pause_button(client, django_user_model):
    campaign = build_campaign()
    user = django_user_model.objects.create_user("viewer", password="pw-123456", is_staff=True)
    Campaign.objects.filter(pk=campaign.pk).update(owner=user)
    client.force_login(user)
    assert 'id="campaign-pause"' not in client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert client.post(f"/campaigns/{campaign.pk}/pause/").status_code == 403
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.RUNNING
