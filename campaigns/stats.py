"""Campaign numbers for the API: counts only, so they survive a contact's erasure."""

from django.db.models import Count, Q

from campaigns.models import Campaign, Enrollment
from outreach.models import Message

M = Message.Status


def campaign_stats(*, campaign: Campaign) -> dict[str, int]:
    states = dict(
        Enrollment.objects.filter(campaign=campaign)
        .values_list("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    messages = Message.objects.filter(step_send__enrollment__campaign=campaign).aggregate(
        queued=Count("id", filter=Q(status__in=[M.QUEUED, M.PAUSED])),
        sent=Count("id", filter=Q(status__in=[M.SENT, M.DELIVERED, M.READ])),
        failed=Count("id", filter=Q(status=M.FAILED)),
    )
    return {
        "enrolled": sum(states.values()),
        **{f"enrollments_{state}": states.get(state, 0) for state in Enrollment.State.values},
        "replied": states.get(Enrollment.State.REPLIED, 0),
        "messages_queued": messages["queued"],
        "messages_sent": messages["sent"],
        "messages_failed": messages["failed"],
    }
