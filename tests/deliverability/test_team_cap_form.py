"""The team daily cap, set from a sender's health page: the team's manager sets it (audited)
and sees today's count against it; a rep of the team and another team's manager cannot."""

from core.audit import AuditEntry
from outreach.team_caps import TeamChannelCap
from tests.security.teams import two_teams  # noqa: F401  (a pytest fixture)


def test_a_teams_manager_sets_its_daily_cap_on_a_senders_page_and_sees_it(
    client,
    two_teams,  # noqa: F811
):
    sender = two_teams.rows["ann"].sender
    north = sender.owner.teams.get()
    client.force_login(two_teams.nora)
    response = client.post(
        f"/senders/{sender.pk}/team-cap/", {"team": north.pk, "per_day": "40"}, follow=True
    )
    page = response.content.decode()
    assert "North: 40 email messages a day across all its senders." in page
    assert "0 of 40 today" in page
    cap = TeamChannelCap.objects.get(team=north, channel="email")
    assert cap.per_day == 40
    assert AuditEntry.objects.get(action="team.channel_cap").detail == "email: 40 cap a day"
    # Empty removes the cap.
    client.post(f"/senders/{sender.pk}/team-cap/", {"team": north.pk, "per_day": ""})
    assert not TeamChannelCap.objects.exists()


def test_a_rep_and_another_teams_manager_cannot_set_the_cap(client, two_teams):  # noqa: F811
    sender = two_teams.rows["ann"].sender
    north = sender.owner.teams.get()
    client.force_login(two_teams.ann)
    page = client.get(f"/senders/{sender.pk}/health/").content.decode()
    assert "no cap" in page and 'name="per_day"' not in page  # shown, not editable
    url = f"/senders/{sender.pk}/team-cap/"
    assert client.post(url, {"team": north.pk, "per_day": "5"}).status_code == 404
    client.force_login(two_teams.sam)
    assert client.post(url, {"team": north.pk, "per_day": "5"}).status_code == 404
    assert not TeamChannelCap.objects.exists()
