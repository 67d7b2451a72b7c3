"""Templates belong to a team: a rep cannot rewrite what another team's running campaign
sends, the admin preview shows only contacts the user may see, and the live preview of a
pathological text answers with the error, never a 500."""

from campaigns.models import Template, TemplateVersion
from tests.templates.test_limits import DEEP_PARENS
from tests.triggers.teams import two_teams  # noqa: F401


def test_the_live_preview_of_five_thousand_nested_parentheses_shows_the_error(
    client,
    two_teams,  # noqa: F811
):
    template = two_teams.a.campaign.sequence.steps.get().template
    client.force_login(two_teams.a.rep)
    response = client.post(
        f"/templates/{template.pk}/preview/", {"body": DEEP_PARENS, "channel": "messenger"}
    )
    assert response.status_code == 200
    assert "nested too deeply (limit 50)" in response.content.decode()
    saved = client.post(
        f"/templates/{template.pk}/",
        {"name": template.name, "channel": "messenger", "subject": "", "body": DEEP_PARENS},
    )
    assert saved.status_code == 200 and "nested too deeply" in saved.content.decode()


def test_a_rep_cannot_edit_a_template_another_teams_running_campaign_sends(
    client,
    two_teams,  # noqa: F811
):
    theirs = two_teams.b.campaign.sequence.steps.get().template
    body = theirs.body
    versions = TemplateVersion.objects.filter(template=theirs).count()
    client.force_login(two_teams.a.rep)
    page = client.get(f"/templates/{theirs.pk}/").content.decode()
    assert "Another team&#x27;s campaign sends this template" in page
    data = {"name": theirs.name, "channel": "messenger", "subject": "", "body": "Buy now"}
    assert client.post(f"/templates/{theirs.pk}/", data).status_code == 403
    admin_url = f"/admin/campaigns/template/{theirs.pk}/change/"
    assert "Another team&#x27;s campaign" in client.get(admin_url).content.decode()
    admin_data = data | {"attachments": "[]", "ab_auto_winner_after": "", "team": ""}
    admin_data |= {f"{p}-{k}": v for p in ("variants", "versions") for k, v in FORMSET.items()}
    assert client.post(admin_url, admin_data).status_code == 403
    theirs.refresh_from_db()
    assert theirs.body == body
    assert TemplateVersion.objects.filter(template=theirs).count() == versions
    # Their own team's template stays theirs to edit.
    mine = two_teams.a.campaign.sequence.steps.get().template
    mine_data = data | {"name": mine.name}
    assert client.post(f"/templates/{mine.pk}/", mine_data).status_code == 302
    assert Template.objects.get(pk=mine.pk).body == "Buy now"


FORMSET = {"TOTAL_FORMS": "0", "INITIAL_FORMS": "0", "MIN_NUM_FORMS": "0", "MAX_NUM_FORMS": "1000"}


def test_the_admin_template_preview_never_shows_another_teams_contact(
    client,
    two_teams,  # noqa: F811
):
    template = two_teams.a.campaign.sequence.steps.get().template
    client.force_login(two_teams.a.rep)
    url = f"/admin/campaigns/template/{template.pk}/preview/"
    asked = client.get(url, {"contact": two_teams.b.contact.pk, "channel": "messenger"})
    assert asked.status_code == 200
    html = asked.content.decode()
    assert "LeadB" not in html and "lead_B" not in html
    assert "LeadA" in html  # their own newest contact instead, and in the dropdown
    sample = client.get(url, {"sample": "1", "channel": "messenger"}).content.decode()
    assert "LeadB" not in sample
