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


def visible_queryset(model: type, user) -> QuerySet | None:
    """The rows of ``model`` the user may see or pick, or None for a model that is not
    scoped per owner (pipelines, stages, tags: shared by every team).

    The one lookup every form field, admin foreign key, action and serializer uses to
    narrow its choices and to check a submitted id again on save."""
    from django.contrib.auth import get_user_model

    from contacts.access import (
        consent_records_visible_to,
        identities_visible_to,
        imports_visible_to,
        teams_visible_to,
        users_visible_to,
    )
    from contacts.models import ConsentRecord, Contact, ContactImport, Identity
    from contacts.teams import Team
    from outreach.access import conversations_visible_to, messages_visible_to
    from outreach.models import Conversation, Message, SenderAccount

    scoped = {
        Contact: contacts_visible_to,
        Identity: identities_visible_to,
        ConsentRecord: consent_records_visible_to,
        ContactImport: imports_visible_to,
        SenderAccount: senders_visible_to,
        Conversation: conversations_visible_to,
        Message: messages_visible_to,
        Campaign: campaigns_visible_to,
        Enrollment: enrollments_visible_to,
        Deal: deals_visible_to,
        Trigger: triggers_visible_to,
        Team: teams_visible_to,
        get_user_model(): users_visible_to,
    }
    visible_to = scoped.get(model)
    return None if visible_to is None else visible_to(user)
