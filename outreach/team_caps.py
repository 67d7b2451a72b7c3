"""Team-wide daily caps per channel: "at most N emails a day from all of this team's senders".

A team's senders are those owned by its members or managers (core/access.py scopes senders
the same way). The cap is counted per day in the installation's TIME_ZONE. The claim
(outreach/sending/team_limits.py) enforces it under a lock on the cap's row, so it holds
across any number of workers; the sender health page edits it (analytics/sender_health.py),
for the team's managers and admins only.
"""

from django.db import models
from django.db.models import Q, QuerySet

from contacts.channels import channel_choices
from core.access import ADMIN, MANAGER, role_of
from core.audit import audit_record
from core.teams import Team


class TeamChannelCap(models.Model):
    """At most per_day messages of this channel a day (TIME_ZONE) from all the team's
    senders."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="channel_caps")
    channel = models.CharField(max_length=20, choices=channel_choices)
    per_day = models.PositiveIntegerField(help_text="Messages a day (UTC), all senders together.")

    class Meta:
        app_label = "outreach"
        constraints = [
            models.UniqueConstraint(fields=["team", "channel"], name="team_cap_unique"),
            models.CheckConstraint(condition=Q(per_day__gte=1), name="team_cap_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.team}: {self.per_day} {self.channel} a day"


def teams_of_owner(owner_id: int | None) -> QuerySet[Team]:
    if owner_id is None:
        return Team.objects.none()
    return Team.objects.filter(Q(members=owner_id) | Q(managers=owner_id)).distinct()


def teams_capped_by(user) -> QuerySet[Team]:
    """Teams whose caps the user may change: those they manage; every team for an admin."""
    role = role_of(user)
    if role == ADMIN:
        return Team.objects.all()
    if role == MANAGER:
        return Team.objects.filter(managers=user)
    return Team.objects.none()


def team_cap_set(*, team: Team, channel: str, per_day: int | None, actor=None) -> None:
    """Set the team's daily cap for the channel; None removes it. Audited."""
    if per_day:
        TeamChannelCap.objects.update_or_create(
            team=team, channel=channel, defaults={"per_day": per_day}
        )
    else:
        TeamChannelCap.objects.filter(team=team, channel=channel).delete()
    audit_record(
        actor=actor,
        action="team.channel_cap",
        target=team,
        detail=f"{channel}: {per_day or 'no'} cap a day",
    )
