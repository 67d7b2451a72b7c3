"""Row scoping for deals (see core/access.py for the roles); pipelines and stages are shared
by every team."""

from django.db.models import Q, QuerySet

from contacts.access import contacts_visible_to
from core.access import visible_owner_ids
from pipelines.models import Deal


def deals_visible_to(user) -> QuerySet[Deal]:
    """Deals the user (or their team) owns, plus deals on contacts they own."""
    ids = visible_owner_ids(user)
    qs = Deal.objects.all()
    if ids is None:
        return qs
    return qs.filter(Q(owner_id__in=ids) | Q(contact__in=contacts_visible_to(user)))
