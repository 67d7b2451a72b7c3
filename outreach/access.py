"""Row scoping for outreach, built on contacts/access.py (roles: core/access.py)."""

from django.db.models import Q, QuerySet

from contacts.access import contacts_visible_to
from core.access import ADMIN, MANAGER, role_of, teams_visible_to, visible_owner_ids
from outreach.inbox.models import SavedReply
from outreach.models import Conversation, ManualTask, MediaAsset, Message, SenderAccount


def conversations_visible_to(user) -> QuerySet[Conversation]:
    """Conversations with a contact the user sees, plus those assigned to them (or their team)."""
    ids = visible_owner_ids(user)
    qs = Conversation.objects.all()
    if ids is None:
        return qs
    return qs.filter(Q(identity__contact__in=contacts_visible_to(user)) | Q(assigned_to_id__in=ids))


def messages_visible_to(user) -> QuerySet[Message]:
    ids = visible_owner_ids(user)
    qs = Message.objects.all()
    if ids is None:
        return qs
    return qs.filter(conversation__in=conversations_visible_to(user))


def manual_tasks_visible_to(user) -> QuerySet[ManualTask]:
    """Tasks for messages the user sees, plus those assigned to them (or their team)."""
    ids = visible_owner_ids(user)
    qs = ManualTask.objects.all()
    if ids is None:
        return qs
    return qs.filter(Q(message__in=messages_visible_to(user)) | Q(assignee_id__in=ids))


def senders_visible_to(user) -> QuerySet[SenderAccount]:
    """Shared accounts (no owner) and those owned by the user or their team."""
    ids = visible_owner_ids(user)
    qs = SenderAccount.objects.all()
    if ids is None:
        return qs
    return qs.filter(Q(owner__isnull=True) | Q(owner_id__in=ids))


def media_assets_visible_to(user) -> QuerySet[MediaAsset]:
    """The media library has no owner: all of it for active staff with the view permission
    for media assets (admins; managers and reps are not given it), none for anyone else."""
    qs = MediaAsset.objects.all()
    if visible_owner_ids(user) == set():  # anonymous or inactive
        return qs.none()
    if not (user.is_staff and user.has_perm("outreach.view_mediaasset")):
        return qs.none()
    return qs


def saved_replies_visible_to(user) -> QuerySet[SavedReply]:
    """Shared saved replies (no team), those of the user's teams and those they (or, for a
    manager, their reps) wrote; all of them for an admin."""
    ids = visible_owner_ids(user)
    qs = SavedReply.objects.all()
    if ids is None:
        return qs
    if not ids:
        return qs.none()
    mine = Q(team__isnull=True) | Q(team__in=teams_visible_to(user)) | Q(created_by_id__in=ids)
    return qs.filter(mine)


def saved_replies_editable_by(user) -> QuerySet[SavedReply]:
    """A rep changes the saved replies they wrote; a manager also those of the teams they
    manage and the shared ones; an admin every one."""
    role = role_of(user)
    qs = SavedReply.objects.all()
    if role == ADMIN:
        return qs
    if role == MANAGER:
        managed = Q(team__managers=user) | Q(team__isnull=True)
        return qs.filter(managed | Q(created_by=user)).distinct()
    if role is None:
        return qs.none()
    return qs.filter(created_by=user)
