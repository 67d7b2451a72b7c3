"""Row scoping for campaigns, built on outreach/access.py (see contacts/access.py)."""

from django.db.models import Q, QuerySet

from campaigns.models import Campaign, Deal, Enrollment
from campaigns.triggers.models import Trigger
from contacts.access import contacts_visible_to, visible_owner_ids
from outreach.access import senders_visible_to


def campaigns_visible_to(user) -> QuerySet[Campaign]:
    ids = visible_owner_ids(user)
    qs = Campaign.objects.all()
    return qs if ids is None else qs.filter(owner_id__in=ids)


def enrollments_visible_to(user) -> QuerySet[Enrollment]:
    ids = visible_owner_ids(user)
    qs = Enrollment.objects.all()
    if ids is None:
        return qs
    return qs.filter(campaign__in=campaigns_visible_to(user))


def deals_visible_to(user) -> QuerySet[Deal]:
    """Deals the user (or their team) owns, plus deals on contacts they own."""
    ids = visible_owner_ids(user)
    qs = Deal.objects.all()
    if ids is None:
        return qs
    return qs.filter(Q(owner_id__in=ids) | Q(contact__in=contacts_visible_to(user)))


def triggers_visible_to(user) -> QuerySet[Trigger]:
    """A trigger has no owner: it is the user's when the campaign it enrols into and the
    account it answers from are theirs to see (or it has none)."""
    ids = visible_owner_ids(user)
    qs = Trigger.objects.all()
    if ids is None:
        return qs
    return qs.filter(
        Q(campaign__isnull=True) | Q(campaign__in=campaigns_visible_to(user)),
        Q(sender__isnull=True) | Q(sender__in=senders_visible_to(user)),
    )
