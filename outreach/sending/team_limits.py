"""Team daily caps in the claim (the caps: outreach/team_caps.py). Called by claim_batch with
the messages that won their senders' tokens, inside the claim's transaction.

Per batch, not per message: the caps of the batch's teams are read and locked in one query
(FOR UPDATE, in id order, after the senders and contacts: the claim's lock order), then each
cap's sends today are one COUNT over the (sender, sent_at) index plus the sends in flight.
The lock serialises the claims of a team's senders across workers, so the count is exact;
within the batch each message that goes adds one in memory."""

from collections import defaultdict
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from core.teams import Team
from outreach.models import Message, SenderAccount
from outreach.team_caps import TeamChannelCap

S = Message.Status


def day_start(now: datetime) -> datetime:
    """Midnight starting `now`'s day in the installation's TIME_ZONE: a team's day is the one
    its dashboards count by (a team in Zürich gets a new day at 00:00 there, not at 01:00)."""
    local = now.astimezone(timezone.get_default_timezone())
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def team_sent_today(cap: TeamChannelCap, now: datetime) -> int:
    """The team's messages of the cap's channel sent today or in flight: one query."""
    since = day_start(now)
    senders = SenderAccount.objects.filter(
        Q(owner__teams=cap.team_id) | Q(owner__managed_teams=cap.team_id), channel=cap.channel
    ).values("id")
    return (
        Message.objects.filter(sender_id__in=senders, direction=Message.Direction.OUTBOUND)
        .filter(
            Q(sent_at__gte=since)
            | Q(status__in=[S.SENDING, S.UNKNOWN], claimed_at__gte=since, sent_at=None)
        )
        .count()
    )


def team_caps_over(messages: list[Message], now: datetime) -> dict[int, tuple[str, datetime]]:
    """{message id: (reason, when to try again)} for the messages over their team's cap."""
    owners = {m.sender.owner_id for m in messages if m.sender.owner_id}
    if not owners:
        return {}
    teams_of: dict[int, set[int]] = defaultdict(set)
    for through in (Team.members.through, Team.managers.through):
        for team_id, user_id in through.objects.filter(user_id__in=owners).values_list(
            "team_id", "user_id"
        ):
            teams_of[user_id].add(team_id)
    wanted = Q(team_id__in={t for ts in teams_of.values() for t in ts})
    caps = list(
        TeamChannelCap.objects.select_for_update()
        .filter(wanted, channel__in={m.channel for m in messages})
        .order_by("id")
    )
    if not caps:
        return {}
    used = {cap.id: team_sent_today(cap, now) for cap in caps}
    tomorrow = day_start(now) + timedelta(days=1)
    over: dict[int, tuple[str, datetime]] = {}
    for message in messages:
        teams = teams_of.get(message.sender.owner_id or 0, set())
        mine = [c for c in caps if c.channel == message.channel and c.team_id in teams]
        full = next((c for c in mine if used[c.id] >= c.per_day), None)
        if full is not None:
            reason = f"team daily cap for {full.channel} reached: {used[full.id]} of {full.per_day}"
            over[message.id] = (reason, tomorrow)
            continue
        for cap in mine:
            used[cap.id] += 1
    return over
