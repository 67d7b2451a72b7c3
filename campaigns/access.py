"""Row scoping for campaigns, built on outreach/access.py (see core/access.py for the roles)."""

from django.db.models import Q, QuerySet

from campaigns.models import Campaign, Enrollment, Sequence, Step, Template
from campaigns.triggers.models import Trigger
from contacts.access import contacts_visible_to
from core.access import ADMIN, MANAGER, role_of, teams_visible_to, visible_owner_ids
from core.teams import Team
from outreach.access import senders_visible_to
from pipelines.access import deals_visible_to
from pipelines.models import Deal


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


def triggers_visible_to(user) -> QuerySet[Trigger]:
    """The triggers of the teams the user belongs to or manages. Old triggers no team
    could be given (campaigns migration 0017) are seen by admins only."""
    qs = Trigger.objects.all()
    if role_of(user) == ADMIN:
        return qs
    return qs.filter(team__in=teams_visible_to(user))


def trigger_teams_of(user) -> QuerySet[Team]:
    """Teams whose triggers the user may create, change and delete: every team for an
    admin, the teams they manage for a manager, none for a rep."""
    role = role_of(user)
    if role == ADMIN:
        return Team.objects.all()
    if role == MANAGER:
        return Team.objects.filter(managers=user)
    return Team.objects.none()


def may_add_triggers(user) -> bool:
    return role_of(user) == ADMIN or trigger_teams_of(user).exists()


def triggers_changeable_by(user) -> QuerySet[Trigger]:
    if role_of(user) == ADMIN:
        return Trigger.objects.all()
    return Trigger.objects.filter(team__in=trigger_teams_of(user))


def templates_visible_to(user) -> QuerySet[Template]:
    """Shared templates (no team), those of the user's teams, those they (or their team)
    wrote, and those of the campaigns they see."""
    ids = visible_owner_ids(user)
    qs = Template.objects.all()
    if ids is None:
        return qs
    used = Q(steps__sequence__campaigns__in=campaigns_visible_to(user)) | Q(
        alternatives__step__sequence__campaigns__in=campaigns_visible_to(user)
    )
    mine = Q(team__isnull=True) | Q(team__in=teams_visible_to(user)) | Q(created_by_id__in=ids)
    return qs.filter(pk__in=Template.objects.filter(mine | used).values("pk"))


def sequences_visible_to(user) -> QuerySet[Sequence]:
    """Shared sequences (no team, no author: every one made in the admin before sequences
    had owners), those of the user's teams, those they (or their team) built, and those of
    the campaigns they see."""
    ids = visible_owner_ids(user)
    qs = Sequence.objects.all()
    if ids is None:
        return qs
    mine = (
        Q(team__isnull=True, created_by__isnull=True)
        | Q(team__in=teams_visible_to(user))
        | Q(created_by_id__in=ids)
        | Q(campaigns__in=campaigns_visible_to(user))
    )
    return qs.filter(pk__in=Sequence.objects.filter(mine).values("pk"))


def sequence_edit_refusal(user, sequence: Sequence) -> str:
    """Why the user may not change this sequence's steps, or "": as for templates, a
    sequence that a campaign the user cannot see runs is changed by its team or an admin."""
    ids = visible_owner_ids(user)
    if ids is None or sequence.pk is None:
        return ""
    if Campaign.objects.filter(sequence=sequence).exclude(owner_id__in=ids).exists():
        return (
            "Another team's campaign runs this sequence: only that team or an admin may change it."
        )
    return ""


def home_team_of(user) -> Team | None:
    """The team what the user makes in the app belongs to: the first they belong to, else
    the first they manage; None (shared) for a user in no team."""
    member = Team.objects.filter(members=user).order_by("id").first()
    return member or Team.objects.filter(managers=user).order_by("id").first()


def steps_visible_to(user) -> QuerySet[Step]:
    """Steps whose template the user sees: a step sending another team's template is that
    team's (its list would name the template)."""
    return Step.objects.filter(template__in=templates_visible_to(user))


def template_edit_refusal(user, template: Template) -> str:
    """Why the user may not change this template, or "": a template sent by a campaign the
    user cannot see (another team's, or an owner-less one) is changed by its team or an
    admin, so that nobody rewrites what another team's running campaign sends."""
    ids = visible_owner_ids(user)
    if ids is None:
        return ""
    uses = Q(sequence__steps__template=template) | Q(
        sequence__steps__alternatives__template=template
    )
    others = Campaign.objects.filter(uses).exclude(owner_id__in=ids)
    if others.exists():
        return (
            "Another team's campaign sends this template: only that team or an admin may change it."
        )
    return ""


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
    )
    from contacts.models import ConsentRecord, Contact, ContactImport, Identity
    from core.access import teams_visible_to, users_visible_to
    from core.teams import Team
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
        Template: templates_visible_to,
        Sequence: sequences_visible_to,
        Team: teams_visible_to,
        get_user_model(): users_visible_to,
    }
    visible_to = scoped.get(model)
    return None if visible_to is None else visible_to(user)
